// A test OpenID provider for Warden's social sign-in journeys: the
// certified oidc-provider (v9), with its built-in development login and
// consent pages, on 127.0.0.1 over plain http.
//
//   OP_PORT                   the port to listen on
//   WARDEN_URL                http://127.0.0.1:<port> of the Warden under test
//                             (its callback /v1/oauth/op/callback is the
//                             one registered redirect URI)
//   WARDEN_TEST_NODE_MODULES  node_modules holding oidc-provider
//                             (default /tmp/wnode/node_modules)
//
// Prints `listening <issuer>` once it answers. `GET <issuer>/__rotate`
// replaces the signing keys with a freshly generated set (a new kid): the
// next ID token is signed by it, and the JWKS lists only the new key; it
// answers {previous_kid, kid}. `GET <issuer>/__issued` answers {kid,
// issued: [{kid, alg, sub, email, email_verified, nonce}]}, one entry per
// ID token the token endpoint handed out (also logged to stderr).
"use strict";
const path = require("path");
const http = require("http");
const crypto = require("crypto");

const modules = process.env.WARDEN_TEST_NODE_MODULES || "/tmp/wnode/node_modules";
const PORT = Number(process.env.OP_PORT);
const WARDEN_URL = (process.env.WARDEN_URL || "").replace(/\/+$/, "");
if (!PORT || !WARDEN_URL) {
  console.error("op.cjs: OP_PORT and WARDEN_URL are required");
  process.exit(2);
}
const ISSUER = `http://127.0.0.1:${PORT}`;

// One RS256 signing key with a kid of its own, as a private JWK.
let generation = 0;
function signingKeys() {
  generation++;
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  currentKid = `op-${generation}-${crypto.randomBytes(6).toString("hex")}`;
  return { keys: [{ ...jwk, kid: currentKid, alg: "RS256", use: "sig" }] };
}

let currentKid = null;

// What the token endpoint answered, for the journeys to check: the kid
// that signed each ID token and the claims it carried.
const issued = [];
function recordIdToken(res) {
  const chunks = [];
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  res.write = (chunk, ...rest) => {
    if (chunk) chunks.push(Buffer.from(chunk));
    return write(chunk, ...rest);
  };
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== "function") chunks.push(Buffer.from(chunk));
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (body.id_token) {
        const [header, payload] = body.id_token.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url").toString("utf8")));
        const entry = { kid: header.kid, alg: header.alg, sub: payload.sub, email: payload.email, email_verified: payload.email_verified, nonce: Boolean(payload.nonce) };
        issued.push(entry);
        console.error(`op: id_token ${JSON.stringify(entry)}`);
      } else if (body.error) {
        console.error(`op: token error ${JSON.stringify(body)}`);
      }
    } catch (_) {
      // Not JSON: nothing to record.
    }
    return end(chunk, ...rest);
  };
}

// Any login typed at the dev login form is an account: its sub is the
// login itself (the dev interaction stores the typed login as the
// accountId, and oidc-provider makes the accountId the sub), its address
// the login, verified unless the login starts with `unverified-`.
async function findAccount(_ctx, id) {
  const login = String(id);
  return {
    accountId: login,
    async claims(_use, _scope, _claims, _rejected) {
      return {
        sub: login,
        email: login,
        email_verified: !login.startsWith("unverified-"),
      };
    },
  };
}

// Survive a rotation: the cookie keys stay, so a session of the browser
// that started before it still reads.
const COOKIE_KEYS = [crypto.randomBytes(32).toString("base64url")];

async function main() {
  const { default: Provider } = await import(path.join(modules, "oidc-provider", "lib", "index.js"));

  function build() {
    const provider = new Provider(ISSUER, {
      clients: [
        {
          client_id: "warden",
          client_secret: "warden-secret",
          redirect_uris: [`${WARDEN_URL}/v1/oauth/op/callback`],
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_post",
        },
      ],
      findAccount,
      claims: { openid: ["sub"], email: ["email", "email_verified"] },
      // The ID token itself carries the scope's claims (email,
      // email_verified), not only the userinfo endpoint: Warden reads the
      // ID token only.
      conformIdTokenClaims: false,
      // oidc-provider v9 requires PKCE only of public clients (and FAPI 2.0)
      // by default; `warden` is confidential, so require it explicitly.
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: true },
      },
      jwks: signingKeys(),
      cookies: { keys: COOKIE_KEYS },
      ttl: {
        AccessToken: 600,
        AuthorizationCode: 60,
        IdToken: 600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
      },
    });
    provider.on("server_error", (_ctx, err) => console.error("op server_error:", err));
    provider.on("grant.error", (_ctx, err) => console.error("op grant.error:", err && err.message, err && err.error_description));
    provider.on("authorization.error", (_ctx, err) => console.error("op authorization.error:", err && err.message, err && err.error_description));
    return provider;
  }

  let provider = build();
  let handler = provider.callback();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, ISSUER);
    if (req.method === "GET" && url.pathname === "/__rotate") {
      const before = currentKid;
      provider = build();
      handler = provider.callback();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ previous_kid: before, kid: currentKid }) + "\n");
      return;
    }
    if (req.method === "GET" && url.pathname === "/__issued") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ kid: currentKid, issued }) + "\n");
      return;
    }
    if (req.method === "POST" && url.pathname === "/token") recordIdToken(res);
    handler(req, res);
  });
  server.listen(PORT, "127.0.0.1", () => {
    console.log(`listening ${ISSUER}`);
  });
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
