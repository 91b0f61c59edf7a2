// A real OAuth2/OIDC server for SMTP Desk's tests: npm's oauth2-mock-server (RS256 JWT access
// tokens, JWKS, authorization code with PKCE, refresh), behind a small front that adds what it
// lacks: the device authorization grant (RFC 8628) and switches the tests turn:
//   POST /test/ttl?s=N[&claim=M] access tokens issued from now on expire after N seconds (and the
//                             token response says M: a provider whose expires_in is wrong)
//   POST /test/refuse-refresh every refresh token is refused from now on (invalid_grant: revoked)
//   GET  /test/stats          {"refreshes": N, "device_polls": N}
// Listens on 127.0.0.1 (a free port) and prints "READY <port>"; runs until killed.
import http from "node:http";
import { randomUUID } from "node:crypto";
import { OAuth2Server } from "oauth2-mock-server";

const mock = new OAuth2Server();
await mock.issuer.keys.generate("RS256");
await mock.start(0, "127.0.0.1");
const inner = mock.address().port;

let ttl = 3600;
let claimed = null;
let refuseRefresh = false;
const stats = { refreshes: 0, device_polls: 0 };
const devices = new Map(); // device_code -> polls so far

mock.service.on("beforeTokenSigning", (token) => {
  token.payload.exp = token.payload.iat + ttl;
  if (!token.payload.sub) token.payload.sub = "johndoe";
  token.payload.email = "johndoe@example.com";
});
mock.service.on("beforeResponse", (response) => {
  if (response.body.expires_in) response.body.expires_in = claimed ?? ttl;
});

const front = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  const form = new URLSearchParams(body.toString());
  const json = (status, value) => {
    res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(JSON.stringify(value));
  };
  const port = front.address().port;
  if (url.pathname === "/test/ttl") {
    ttl = Number(url.searchParams.get("s"));
    claimed = url.searchParams.has("claim") ? Number(url.searchParams.get("claim")) : null;
    return json(200, { ttl, claimed });
  }
  if (url.pathname === "/test/refuse-refresh") {
    refuseRefresh = true;
    return json(200, {});
  }
  if (url.pathname === "/test/stats") return json(200, stats);
  if (url.pathname === "/device_authorization" && req.method === "POST") {
    const device_code = randomUUID();
    devices.set(device_code, 0);
    return json(200, {
      device_code,
      user_code: "WDJB-MJHT",
      verification_uri: `http://127.0.0.1:${port}/device`,
      expires_in: 300,
      interval: 1,
    });
  }
  if (url.pathname === "/token" && form.get("grant_type") === "urn:ietf:params:oauth:grant-type:device_code") {
    stats.device_polls += 1;
    const code = form.get("device_code");
    if (!devices.has(code)) return json(400, { error: "invalid_grant" });
    const polls = devices.get(code) + 1;
    devices.set(code, polls);
    // The user "approves" after the first poll, so the client's polling is exercised.
    if (polls < 2) return json(400, { error: "authorization_pending" });
    devices.delete(code);
    const access_token = await mock.service.buildToken(req, ttl, (_h, p) => Object.assign(p, { sub: "johndoe", scope: form.get("scope") ?? "" }));
    return json(200, { access_token, token_type: "Bearer", expires_in: claimed ?? ttl, refresh_token: randomUUID() });
  }
  if (url.pathname === "/token" && form.get("grant_type") === "refresh_token") {
    stats.refreshes += 1;
    if (refuseRefresh) return json(400, { error: "invalid_grant", error_description: "Token has been expired or revoked." });
  }
  // Everything else is the mock server's.
  const fwd = http.request(
    { host: "127.0.0.1", port: inner, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${port}` } },
    (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    },
  );
  fwd.on("error", (e) => json(502, { error: String(e) }));
  fwd.end(body);
});
front.listen(0, "127.0.0.1", () => {
  // The issuer (iss, the discovery document) is the front's address.
  mock.issuer.url = `http://127.0.0.1:${front.address().port}`;
  console.log(`READY ${front.address().port}`);
});
