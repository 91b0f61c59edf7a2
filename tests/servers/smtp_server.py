#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for SMTP Desk's tests and benchmark, configured by arguments.

Listens on 127.0.0.1 or --host (port 0 = any free port), prints "READY <port>" when it accepts connections,
and appends each received message to --save as one JSON line {mail_from, rcpt_tos, content}.
With --events, also appends each EHLO, MAIL and RCPT command as it arrives ({event, arg, options}),
each connection opened and closed ({event: connect | disconnect}), and with --dsn the DSN
parameters of MAIL and RCPT ({event: mail_dsn | rcpt_dsn, arg, dsn}), so a test can tell what was
sent even when no message was.
With --oauth-jwks URL, also offers AUTH XOAUTH2 and OAUTHBEARER (RFC 7628) and accepts a bearer
token only if it is a JWT signed by a key of that JWKS (the test OAuth2 server's) and not expired;
a refused token gets the mechanisms' base64 JSON 334 error continuation, then 535 after the
client's dummy answer. Each OAuth2 login is recorded in --events as {event: oauth, arg: MECH,
options: [user, "ok" | "refused"]}.
Runs until killed.
"""

import argparse
import asyncio
import json
import logging
import re
import ssl
import sys
import warnings

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1", help="the loopback address to listen on (autodetect tests use 127.x.y.z)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--user", action="append", default=[], help="USER:PASSWORD, may repeat")
    p.add_argument("--auth-required", action="store_true", help="530 to MAIL FROM before AUTH")
    p.add_argument("--auth-plaintext", action="store_true", help="offer AUTH without TLS")
    p.add_argument("--refuse-rcpt", action="append", default=[], help="550 to RCPT TO for this address")
    p.add_argument("--defer-rcpt", action="append", default=[], help="450 to RCPT TO for this address")
    p.add_argument("--sessions", help="write the most sessions ever open at once to this file")
    p.add_argument("--data-delay", type=float, default=0.0, help="seconds to wait before answering DATA")
    p.add_argument("--save")
    p.add_argument("--events", help="append each EHLO/MAIL/RCPT as a JSON line here")
    p.add_argument("--smtputf8", action="store_true", help="offer SMTPUTF8 (RFC 6531)")
    p.add_argument("--dsn", action="store_true", help="offer DSN (RFC 3461) and take its MAIL/RCPT parameters")
    p.add_argument("--oauth-jwks", help="offer XOAUTH2/OAUTHBEARER; tokens are checked against this JWKS URL")
    return p.parse_args()


# aiosmtpd refuses MAIL FROM:<> (RFC 5321 §4.5.5 requires it: bounces use it); the server takes it
# as this placeholder and saves mail_from as "".
NULL_SENDER = "null-sender@smtp-desk.invalid"
DSN_PARAMS = ("RET", "ENVID", "NOTIFY", "ORCPT")


class Handler:
    def __init__(self, refused, save, deferred=(), data_delay=0.0, dsn=False):
        self.refused = {a.lower() for a in refused}
        self.deferred = {a.lower() for a in deferred}
        self.save = save
        self.data_delay = data_delay
        self.dsn = dsn

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.dsn:
            responses.insert(len(responses) - 1, "250-DSN")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        if address.lower() in self.deferred:
            return f"450 4.2.0 <{address}>: Recipient address rejected: Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.save:
            content = envelope.original_content or envelope.content
            if isinstance(content, bytes):
                content = content.decode("utf-8", "replace")
            with open(self.save, "a", encoding="utf-8") as f:
                mail_from = "" if envelope.mail_from == NULL_SENDER else envelope.mail_from
                f.write(json.dumps({"mail_from": mail_from, "rcpt_tos": envelope.rcpt_tos, "content": content}) + "\n")
        return "250 2.0.0 Ok: queued as TESTQ42"


class RecordingHandler(Handler):
    """Handler that also records the envelope commands, before the server acts on them."""

    def __init__(self, refused, save, events, deferred=(), data_delay=0.0, dsn=False):
        super().__init__(refused, save, deferred, data_delay, dsn)
        self.events = events

    def record(self, event, arg, options=()):
        with open(self.events, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, "arg": arg, "options": list(options)}) + "\n")

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.record("ehlo", hostname)
        return await super().handle_EHLO(server, session, envelope, hostname, responses)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.record("mail", address, mail_options)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.record("rcpt", address, rcpt_options)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def add_oauth(handler, jwks_url, events):
    """AUTH XOAUTH2 and OAUTHBEARER on `handler` (aiosmtpd calls auth_MECH(server, args))."""
    import base64

    import jwt  # Debian: python3-jwt (with python3-cryptography for RS256)

    keys = jwt.PyJWKClient(jwks_url, cache_keys=False)

    def token_ok(token):
        try:
            key = keys.get_signing_key_from_jwt(token)
            jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_aud": False})
            return True
        except Exception:  # any bad, expired or unsigned token is refused
            return False

    def parse(mech, blob):
        text = blob.decode("utf-8", "replace")
        if mech == "XOAUTH2":
            fields = dict(f.split("=", 1) for f in text.split("\x01") if "=" in f)
            return fields.get("user", ""), fields.get("auth", "")
        gs2, _, rest = text.partition("\x01")
        user = ""
        for part in gs2.split(","):
            if part.startswith("a="):
                user = part[2:].replace("=2C", ",").replace("=3D", "=")
        fields = dict(f.split("=", 1) for f in rest.split("\x01") if "=" in f)
        return user, fields.get("auth", "")

    def record(mech, user, verdict):
        if events:
            with open(events, "a", encoding="utf-8") as f:
                f.write(json.dumps({"event": "oauth", "arg": mech, "options": [user, verdict]}) + "\n")

    def mechanism(mech):
        async def auth(server, args):
            if len(args) < 2:
                blob = await server.challenge_auth("", encode_to_b64=False)
                if blob is MISSING:
                    return None
            else:
                blob = base64.b64decode(args[1])
            user, auth = parse(mech, blob)
            scheme, _, token = auth.partition(" ")
            if user and scheme.lower() == "bearer" and token_ok(token):
                record(mech, user, "ok")
                return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
            record(mech, user, "refused")
            error = json.dumps({"status": "invalid_token" if mech == "OAUTHBEARER" else "401", "schemes": "bearer", "scope": "https://mail.google.com/"})
            await server.challenge_auth(error)
            return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")

        return auth

    handler.auth_XOAUTH2 = mechanism("XOAUTH2")
    handler.auth_OAUTHBEARER = mechanism("OAUTHBEARER")


def main():
    args = parse_args()
    # aiosmtpd warns about the insecure combinations the tests ask for on purpose; keep test output clean.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    users = dict(u.split(":", 1) for u in args.user)

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            ok = users.get(auth_data.login.decode()) == auth_data.password.decode()
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    if args.events:
        handler = RecordingHandler(args.refuse_rcpt, args.save, args.events, args.defer_rcpt, args.data_delay, args.dsn)
    else:
        handler = Handler(args.refuse_rcpt, args.save, args.defer_rcpt, args.data_delay, args.dsn)

    if args.oauth_jwks:
        add_oauth(handler, args.oauth_jwks, args.events)

    sessions = {"open": 0, "most": 0}

    class CountingSMTP(SMTP):
        """Counts the sessions open at once, for the connection-limit test."""

        def connection_made(self, transport):
            if args.events:
                with open(args.events, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"event": "connect", "arg": "", "options": []}) + "\n")
            sessions["open"] += 1
            if sessions["open"] > sessions["most"]:
                sessions["most"] = sessions["open"]
                if args.sessions:
                    with open(args.sessions, "w", encoding="utf-8") as f:
                        f.write(str(sessions["most"]))
            super().connection_made(transport)

        def connection_lost(self, exc):
            if args.events:
                with open(args.events, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"event": "disconnect", "arg": "", "options": []}) + "\n")
            sessions["open"] -= 1
            super().connection_lost(exc)

        def take_dsn(self, event, arg):
            """With --dsn, records the DSN parameters ({event, arg, dsn}) and hides them from aiosmtpd, which refuses them."""
            if not args.dsn or not arg:
                return arg
            words = arg.split(" ")
            dsn = [w for w in words if w.split("=", 1)[0].upper() in DSN_PARAMS]
            if args.events:
                with open(args.events, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"event": event, "arg": arg, "options": [], "dsn": dsn}) + "\n")
            return " ".join(w for w in words if w not in dsn)

        async def smtp_MAIL(self, arg):
            arg = self.take_dsn("mail_dsn", arg)
            if arg and re.match(r"(?i)FROM:\s*<>", arg.strip()):
                arg = re.sub(r"<>", f"<{NULL_SENDER}>", arg, count=1)
            return await super().smtp_MAIL(arg)

        async def smtp_RCPT(self, arg):
            return await super().smtp_RCPT(self.take_dsn("rcpt_dsn", arg))

    if args.oauth_jwks:
        # RFC 4954 §4: a SASL response line may be 12,288 octets (a JWT bearer token is 1-2 KB).
        CountingSMTP.line_length_limit = 12288

    def factory():
        return CountingSMTP(
            handler,
            hostname="test.smtp.local",
            ident="SMTP Desk test server",
            tls_context=context if args.tls == "starttls" else None,
            require_starttls=args.require_starttls,
            authenticator=authenticator if users or args.oauth_jwks else None,
            auth_required=args.auth_required,
            # aiosmtpd counts only STARTTLS as TLS; with implicit TLS the link is already encrypted.
            auth_require_tls=not (args.auth_plaintext or args.tls == "implicit"),
            # Keep the bytes as sent so the test can check the headers exactly.
            decode_data=False,
            enable_SMTPUTF8=args.smtputf8,
        )

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory, host=args.host, port=args.port, ssl=context if args.tls == "implicit" else None
        )
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
