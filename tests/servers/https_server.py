#!/usr/bin/python3
"""A small static web server for SMTP Desk's autodetect tests and benchmark (autoconfig XML, an ISPDB).

Serves ROOT/<host>/<path> for a request to https://<host>/<path> (the Host header picks the
directory, so one server plays autoconfig.D, D and the ISPDB); the query string is ignored.
With --cert/--key it speaks HTTPS, else plain HTTP. Listens on --host:--port (port 0 = any free
port), prints "READY <port>" when it accepts connections. A file named "<name>.redirect" answers
302 to the URL it holds. Runs until killed.
"""

import argparse
import http.server
import os
import ssl
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--root", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()
    root = os.path.abspath(a.root)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            path = self.path.split("?", 1)[0]
            full = os.path.normpath(os.path.join(root, host, path.lstrip("/")))
            if not full.startswith(root + os.sep):
                self.send_error(403)
                return
            if os.path.isfile(full + ".redirect"):
                with open(full + ".redirect") as f:
                    target = f.read().strip()
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if not os.path.isfile(full):
                self.send_error(404)
                return
            with open(full, "rb") as f:
                body = f.read()
            self.send_response(200)
            # MTA-STS policies (RFC 8461 §3.2) must come as text/plain.
            self.send_header("Content-Type", "text/plain" if full.endswith(".txt") else "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((a.host, a.port), Handler)
    # A client that hangs up early (detection stops once a better source answered) is no error.
    server.handle_error = lambda request, client_address: None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
