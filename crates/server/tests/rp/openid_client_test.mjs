// openid-client (npm, the certified Node relying party) against the real
// `warden` binary: discovery, the authorization-code flow with PKCE (S256),
// state and nonce through Debian's chromium (sign in on Warden's page,
// consent), the code exchange with the ID token validated by the library
// (signature against the JWKS, iss, aud, exp, nonce), userinfo, refresh
// (rotation: the old refresh token is refused), client credentials,
// introspection and revocation, a public client with PKCE, and
// RP-initiated logout. Run by .ci/run:
//
//   WARDEN_BIN=target/debug/warden WARDEN_TEST_NODE_MODULES=<node_modules> \
//     node crates/server/tests/rp/openid_client_test.mjs
//
// WARDEN_TEST_NODE_MODULES holds openid-client@6.9.1 and
// playwright-core@1.65.2 (default /tmp/wnode/node_modules);
// WARDEN_TEST_CHROMIUM is the browser (default /usr/bin/chromium, never a
// download). Everything listens on and talks to 127.0.0.1 only. Stops at
// the first failed check with a message and a non-zero exit; gives up after
// WARDEN_RP_TIMEOUT_SECS (default 110) rather than hang.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const BIN = process.env.WARDEN_BIN;
const MODULES = process.env.WARDEN_TEST_NODE_MODULES || "/tmp/wnode/node_modules";
const CHROMIUM = process.env.WARDEN_TEST_CHROMIUM || "/usr/bin/chromium";
const TIMEOUT_SECS = Number(process.env.WARDEN_RP_TIMEOUT_SECS || 110);
const PASSWORD = "correct horse battery staple 9!";
const USERNAME = "Rita Relying";

if (!BIN || !fs.existsSync(BIN)) {
  console.error(`FAIL setup: WARDEN_BIN must name the warden binary (got ${JSON.stringify(BIN)})`);
  process.exit(2);
}
for (const pkg of ["openid-client", "playwright-core"]) {
  if (!fs.existsSync(path.join(MODULES, pkg, "package.json"))) {
    console.error(`FAIL setup: ${pkg} is not in ${MODULES} (set WARDEN_TEST_NODE_MODULES)`);
    process.exit(2);
  }
}
// ESM ignores NODE_PATH: load both packages from the given directory.
const client = await import(pathToFileURL(path.join(MODULES, "openid-client", "build", "index.js")).href);
const { chromium } = createRequire(path.join(MODULES, "noop.js"))("playwright-core");
const versions = ["openid-client", "playwright-core"]
  .map((p) => `${p}@${JSON.parse(fs.readFileSync(path.join(MODULES, p, "package.json"), "utf8")).version}`)
  .join(", ");

const started = Date.now();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "warden-rp-node-"));
const dataDir = path.join(tmp, "data");
let warden = null;
let browser = null;
let callbackServer = null;
let checks = 0;

function check(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
  checks++;
}

function equal(actual, expected, what) {
  check(actual === expected, `${what}: ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

// Runs fn, which must throw; returns the error for the caller to inspect.
async function refused(fn, what) {
  try {
    await fn();
  } catch (e) {
    checks++;
    return e;
  }
  throw new Error(`expected the library to refuse: ${what}`);
}

// The messages down an error's cause chain (openid-client wraps the
// protocol library's errors, whose message names the attribute).
function messages(e) {
  const out = [];
  for (let c = e, i = 0; c && i < 5; c = c.cause, i++) {
    if (typeof c.message === "string") out.push(c.message);
  }
  return out.join(" / ");
}

async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
  } catch (e) {
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    if (e && e.cause) {
      let cause;
      try {
        cause = JSON.stringify(e.cause);
      } catch (_) {
        cause = String(e.cause);
      }
      console.log(`     causes: ${messages(e)}; ${cause}`);
    }
    await cleanup();
    process.exit(1);
  }
  console.log(`ok   ${name} (${Date.now() - t} ms)`);
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  if (callbackServer) callbackServer.close();
  callbackServer = null;
  if (warden && warden.exitCode === null && warden.signalCode === null) {
    const gone = new Promise((r) => warden.once("exit", r));
    warden.kill("SIGTERM");
    const timer = setTimeout(() => warden.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  }
  warden = null;
  fs.rmSync(tmp, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.log(`FAIL timeout: the test did not finish within ${TIMEOUT_SECS} s`);
  await cleanup();
  process.exit(1);
}, TIMEOUT_SECS * 1000);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await cleanup();
    process.exit(130);
  });
}

// The binary's environment: none of the caller's WARDEN_* settings, fast
// password hashing (the debug build hashes slowly at the defaults).
function wardenEnv() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("WARDEN_") && k !== "RUST_LOG"));
  return {
    ...env,
    WARDEN_LOG_LEVEL: "warn",
    WARDEN_PASSWORDS_ARGON2_MEMORY_KIB: "8192",
    WARDEN_PASSWORDS_ARGON2_ITERATIONS: "1",
  };
}

function cli(args, input) {
  const out = spawnSync(BIN, [...args, "--data-dir", dataDir], { input, env: wardenEnv(), encoding: "utf8", timeout: 30000 });
  if (out.status !== 0) throw new Error(`warden ${args.join(" ")} failed (${out.status ?? out.signal}): ${out.stderr}`);
  return out.stdout;
}

function addClient(args) {
  const out = cli(["client", "add", ...args]);
  const id = out.match(/^client_id (\S+)$/m);
  const secret = out.match(/^client_secret (\S+)$/m);
  if (!id) throw new Error(`no client_id in: ${out}`);
  return { id: id[1], secret: secret && secret[1] };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// `warden serve` on a port chosen here (the issuer is the listen address,
// and the discovery document must name the URL the client asked), tried
// again on another port if that one was taken meanwhile.
async function startWarden() {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(BIN, ["serve", "--http", `127.0.0.1:${port}`, "--grpc", "127.0.0.1:0", "--data-dir", dataDir], {
      env: wardenEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    const line = await new Promise((resolve) => {
      let buf = "";
      const timer = setTimeout(() => resolve(null), 30000);
      child.stdout.on("data", (d) => {
        buf += d;
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(buf.slice(0, nl));
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    const base = line && line.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    if (base) {
      child.stdout.resume();
      warden = child;
      return base[1];
    }
    child.kill("SIGKILL");
    if (attempt === 2) throw new Error(`warden did not start: ${JSON.stringify(line)} ${stderr}`);
  }
}

// The app's redirect URIs: a server on 127.0.0.1 that records every
// request and answers with a small page.
let arrivalWaiters = [];
async function startCallbackServer() {
  callbackServer = http.createServer((req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    const waiting = arrivalWaiters;
    arrivalWaiters = [];
    for (const w of waiting) w(url);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>App</title><h1>Back at the app</h1>");
  });
  await new Promise((r) => callbackServer.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${callbackServer.address().port}`;
}

function nextArrival(pathname) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing arrived at ${pathname} within 20 s`)), 20000);
    const wait = (url) => {
      if (url.pathname === pathname) {
        clearTimeout(timer);
        resolve(url);
      } else {
        arrivalWaiters.push(wait);
      }
    };
    arrivalWaiters.push(wait);
  });
}

function jwtPart(jwt, i) {
  return JSON.parse(Buffer.from(jwt.split(".")[i], "base64url").toString("utf8"));
}

// OpenID Connect Core 3.1.3.6: the left half of SHA-256 of the token.
function atHash(token) {
  return createHash("sha256").update(token, "ascii").digest().subarray(0, 16).toString("base64url");
}

const email = `rp-node-${Date.now()}-${randomBytes(3).toString("hex")}@example.com`;
let appUrl, base, web, service, spa, page, context;
let webConfig, serviceConfig, spaConfig;
let tokens, idClaims, refreshed;

console.log(`openid-client relying party against ${BIN} (${versions})`);

await step("set up: callback server, a user and three clients by the command line", async () => {
  appUrl = await startCallbackServer();
  const created = cli(["user", "add", "--email", email, "--username", USERNAME], `${PASSWORD}\n`);
  check(created.includes(`<${email}>`), `warden user add names the user: ${created}`);
  // A third-party web app: consent is asked.
  web = addClient([
    "--name", "RP Web", "--type", "confidential",
    "--redirect-uri", `${appUrl}/callback`,
    "--post-logout-redirect-uri", `${appUrl}/signed-out`,
    "--grant", "authorization_code", "--grant", "refresh_token",
  ]);
  check(web.secret && web.secret.startsWith("wcs_"), "a confidential client gets a wcs_ secret");
  service = addClient([
    "--name", "RP Service", "--type", "confidential",
    "--grant", "client_credentials", "--scope", "tickets:read", "--scope", "tickets:write",
  ]);
  spa = addClient([
    "--name", "RP SPA", "--type", "public", "--first-party",
    "--redirect-uri", `${appUrl}/spa`, "--grant", "authorization_code",
  ]);
  check(!spa.secret, "a public client gets no secret");
  base = await startWarden();
});

await step("discovery through openid-client", async () => {
  const options = { execute: [client.allowInsecureRequests], timeout: 15 };
  webConfig = await client.discovery(new URL(base), web.id, { redirect_uris: [`${appUrl}/callback`] }, client.ClientSecretBasic(web.secret), options);
  client.enableNonRepudiationChecks(webConfig);
  const meta = webConfig.serverMetadata();
  equal(meta.issuer, base, "issuer");
  equal(meta.authorization_endpoint, `${base}/oauth2/authorize`, "authorization_endpoint");
  equal(meta.token_endpoint, `${base}/oauth2/token`, "token_endpoint");
  equal(meta.jwks_uri, `${base}/.well-known/jwks.json`, "jwks_uri");
  check(meta.supportsPKCE("S256"), "S256 in code_challenge_methods_supported");
  check(!meta.supportsPKCE("plain"), "plain PKCE not offered");
  equal(meta.authorization_response_iss_parameter_supported, true, "authorization_response_iss_parameter_supported");
  serviceConfig = await client.discovery(new URL(base), service.id, undefined, client.ClientSecretPost(service.secret), options);
  spaConfig = await client.discovery(new URL(base), spa.id, undefined, client.None(), options);
  client.enableNonRepudiationChecks(spaConfig);
});

await step("chromium launches (Debian's, no download)", async () => {
  const profile = path.join(tmp, "chromium");
  fs.mkdirSync(profile);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
  });
  context = await browser.newContext();
  // Nothing leaves the machine.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  context.setDefaultTimeout(20000);
  page = await context.newPage();
});

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
let callbackUrl;

await step("authorization code + PKCE S256 + state + nonce: sign in on Warden's page, consent, back with a code", async () => {
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const url = client.buildAuthorizationUrl(webConfig, {
    redirect_uri: `${appUrl}/callback`,
    scope: "openid email profile",
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  equal(url.origin + url.pathname, `${base}/oauth2/authorize`, "the library builds the URL on the discovered endpoint");
  equal(url.searchParams.get("code_challenge"), createHash("sha256").update(verifier).digest("base64url"), "the library's S256 challenge");
  await page.goto(url.href);
  await page.waitForURL((u) => u.toString().startsWith(`${base}/signin`));
  await page.fill("#email", email);
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === "/oauth2/authorize"), page.click("form[action$='/signin'] button[type=submit]")]);
  const heading = await page.textContent("h1");
  check(heading.includes("RP Web"), `the consent page names the app: ${heading}`);
  const scopes = await page.textContent(".scopes");
  check(scopes.includes("email address"), `the consent page lists the email scope: ${scopes}`);
  const back = nextArrival("/callback");
  await page.click("button[value=allow]");
  callbackUrl = await back;
  check(callbackUrl.searchParams.get("code").startsWith("woc_"), `a woc_ code: ${callbackUrl}`);
  equal(callbackUrl.searchParams.get("state"), state, "state returned");
  equal(callbackUrl.searchParams.get("iss"), base, "iss returned (RFC 9207)");
});

await step("the library refuses a callback whose state differs (before any token request)", async () => {
  const e = await refused(() => client.authorizationCodeGrant(webConfig, callbackUrl, { pkceCodeVerifier: verifier, expectedState: "another state", expectedNonce: nonce }), "a state mismatch");
  check(/"state"/.test(messages(e)), `the error is about state: ${messages(e)}`);
});

await step("code exchange: tokens, ID token validated by the library (signature, iss, aud, exp, nonce)", async () => {
  tokens = await client.authorizationCodeGrant(webConfig, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  equal(tokens.token_type.toLowerCase(), "bearer", "token_type");
  check(tokens.refresh_token && tokens.refresh_token.startsWith("wrt_"), "a wrt_ refresh token");
  check(tokens.expiresIn() > 0 && tokens.expiresIn() <= 900, `expires_in in (0, 900]: ${tokens.expires_in}`);
  equal(tokens.scope.split(" ").sort().join(" "), "email openid profile", "scope granted");
  idClaims = tokens.claims();
  check(idClaims, "an ID token");
  equal(idClaims.iss, base, "ID token iss");
  equal(idClaims.aud, web.id, "ID token aud");
  equal(idClaims.nonce, nonce, "ID token nonce");
  equal(idClaims.email, email, "ID token email");
  equal(idClaims.email_verified, false, "ID token email_verified (the command line does not verify)");
  check(/^[0-9a-f-]{36}$/.test(idClaims.sub), `sub is the user id: ${idClaims.sub}`);
  check(idClaims.exp > idClaims.iat && Math.abs(idClaims.iat - Date.now() / 1000) < 120, "iat is now, exp after it");
  check(Math.abs(idClaims.auth_time - Date.now() / 1000) < 120, "auth_time is the sign-in just made");
  check(Array.isArray(idClaims.amr) && idClaims.amr.includes("pwd"), `amr names the password: ${JSON.stringify(idClaims.amr)}`);
  equal(idClaims.at_hash, atHash(tokens.access_token), "at_hash of the access token");
  const header = jwtPart(tokens.id_token, 0);
  equal(header.alg, "RS256", "ID token alg (the client's default)");
  // enableNonRepudiationChecks made the library verify the signature
  // against the JWKS it fetched: the signing key is in its cache.
  const cache = client.getJwksCache(webConfig);
  check(cache && cache.jwks.keys.some((k) => k.kid === header.kid), `the library fetched the JWKS holding kid ${header.kid}`);
});

await step("the library refuses an ID token with another nonce; a code used twice is refused", async () => {
  // Signed in and consented: the next request comes straight back.
  const v2 = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(webConfig, {
    redirect_uri: `${appUrl}/callback`, scope: "openid email", state, nonce: "the-nonce-warden-will-sign",
    code_challenge: await client.calculatePKCECodeChallenge(v2), code_challenge_method: "S256",
  });
  const back = nextArrival("/callback");
  await page.goto(url.href);
  const cb = await back;
  const e = await refused(() => client.authorizationCodeGrant(webConfig, cb, { pkceCodeVerifier: v2, expectedState: state, expectedNonce: nonce }), "an ID token with another nonce");
  check(/"nonce"/.test(messages(e)), `the error is about the nonce: ${messages(e)}`);
  // That code was exchanged (the library then refused the ID token): once
  // more is invalid_grant (and revokes what it issued, RFC 6749 4.1.2).
  const again = await refused(() => client.authorizationCodeGrant(webConfig, cb, { pkceCodeVerifier: v2, expectedState: state, expectedNonce: "the-nonce-warden-will-sign" }), "a second use of the code");
  equal(again.error, "invalid_grant", "a used code is invalid_grant");
  // The first grant's tokens are untouched.
  const info = await client.fetchUserInfo(webConfig, tokens.access_token, idClaims.sub);
  equal(info.sub, idClaims.sub, "the first grant's access token still works");
});

await step("userinfo through the library", async () => {
  const info = await client.fetchUserInfo(webConfig, tokens.access_token, idClaims.sub);
  equal(info.sub, idClaims.sub, "userinfo sub");
  equal(info.email, email, "userinfo email");
  equal(info.email_verified, false, "userinfo email_verified");
  equal(info.name, USERNAME, "userinfo name (scope profile)");
  equal(info.preferred_username, USERNAME, "userinfo preferred_username");
  await refused(() => client.fetchUserInfo(webConfig, tokens.access_token, "somebody-else"), "a userinfo answer for another subject");
});

await step("refresh through the library: new tokens, the old refresh token refused", async () => {
  refreshed = await client.refreshTokenGrant(webConfig, tokens.refresh_token);
  check(refreshed.access_token !== tokens.access_token, "a new access token");
  check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, "a new refresh token (rotation)");
  const claims = refreshed.claims();
  check(claims, "an ID token on refresh");
  equal(claims.sub, idClaims.sub, "the refreshed ID token's sub");
  equal(claims.aud, web.id, "the refreshed ID token's aud");
  equal(claims.at_hash, atHash(refreshed.access_token), "at_hash of the new access token");
  const info = await client.fetchUserInfo(webConfig, refreshed.access_token, idClaims.sub);
  equal(info.email, email, "userinfo with the new access token");
  const e = await refused(() => client.refreshTokenGrant(webConfig, tokens.refresh_token), "the old refresh token again");
  equal(e.error, "invalid_grant", "the old refresh token is invalid_grant");
  equal(e.status, 400, "with 400");
  // Reuse detection: the replay ended the whole family.
  const after = await refused(() => client.refreshTokenGrant(webConfig, refreshed.refresh_token), "the new refresh token after a replay");
  equal(after.error, "invalid_grant", "the family is revoked after reuse");
});

await step("client credentials through the library", async () => {
  const all = await client.clientCredentialsGrant(serviceConfig);
  equal(all.scope, "tickets:read tickets:write", "default scope: all the client's");
  equal(all.refresh_token, undefined, "no refresh token");
  equal(all.id_token, undefined, "no ID token");
  const narrow = await client.clientCredentialsGrant(serviceConfig, { scope: "tickets:read" });
  equal(narrow.scope, "tickets:read", "a narrower scope");
  const payload = jwtPart(narrow.access_token, 1);
  equal(payload.sub, service.id, "the access token's sub is the client");
  equal(payload.client_id, service.id, "and its client_id");
  equal(payload.iss, base, "and its iss");
  const described = await client.tokenIntrospection(serviceConfig, narrow.access_token);
  equal(described.active, true, "a client-credentials token introspects active (RFC 7662 2.2)");
  equal(described.sub, service.id, "its introspected sub");
  equal(described.scope, "tickets:read", "its introspected scope");
  const e = await refused(() => client.clientCredentialsGrant(serviceConfig, { scope: "tickets:delete" }), "a scope the client does not have");
  equal(e.error, "invalid_scope", "an unregistered scope is invalid_scope");
  const web2 = await refused(() => client.clientCredentialsGrant(webConfig), "client credentials for a web app without the grant");
  equal(web2.error, "unauthorized_client", "a client without the grant is unauthorized_client");
});

await step("introspection and revocation through the library", async () => {
  // A fresh grant: straight back, no page.
  const v = client.randomPKCECodeVerifier();
  const n = client.randomNonce();
  const url = client.buildAuthorizationUrl(webConfig, {
    redirect_uri: `${appUrl}/callback`, scope: "openid email", state, nonce: n,
    code_challenge: await client.calculatePKCECodeChallenge(v), code_challenge_method: "S256",
  });
  const back = nextArrival("/callback");
  await page.goto(url.href);
  const fresh = await client.authorizationCodeGrant(webConfig, await back, { pkceCodeVerifier: v, expectedState: state, expectedNonce: n });
  const live = await client.tokenIntrospection(webConfig, fresh.access_token);
  equal(live.active, true, "a live access token is active");
  equal(live.sub, idClaims.sub, "introspection sub");
  equal(live.client_id, web.id, "introspection client_id");
  equal(live.scope, "email openid", "introspection scope");
  equal(live.iss, base, "introspection iss");
  const asRefresh = await client.tokenIntrospection(webConfig, fresh.refresh_token);
  equal(asRefresh.active, false, "a refresh token introspects inactive (Warden describes access tokens only)");
  await client.tokenRevocation(webConfig, fresh.refresh_token);
  const dead = await client.tokenIntrospection(webConfig, fresh.access_token);
  equal(dead.active, false, "the access token of a revoked grant is inactive");
  const e = await refused(() => client.refreshTokenGrant(webConfig, fresh.refresh_token), "a revoked refresh token");
  equal(e.error, "invalid_grant", "a revoked refresh token is invalid_grant");
});

await step("a public client with PKCE (first party: no consent page)", async () => {
  const v = client.randomPKCECodeVerifier();
  const n = client.randomNonce();
  const s = client.randomState();
  const url = client.buildAuthorizationUrl(spaConfig, {
    redirect_uri: `${appUrl}/spa`, scope: "openid email", state: s, nonce: n,
    code_challenge: await client.calculatePKCECodeChallenge(v), code_challenge_method: "S256",
  });
  const back = nextArrival("/spa");
  await page.goto(url.href);
  const cb = await back;
  // The wrong verifier first: the code is refused (and spent).
  const bad = await refused(() => client.authorizationCodeGrant(spaConfig, cb, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: s, expectedNonce: n }), "a wrong PKCE verifier");
  equal(bad.error, "invalid_grant", "a wrong verifier is invalid_grant");
  const back2 = nextArrival("/spa");
  await page.goto(url.href);
  const got = await client.authorizationCodeGrant(spaConfig, await back2, { pkceCodeVerifier: v, expectedState: s, expectedNonce: n });
  const claims = got.claims();
  equal(claims.aud, spa.id, "the public client's ID token aud");
  equal(claims.sub, idClaims.sub, "the same person");
  equal(claims.nonce, n, "its nonce");
  equal(got.refresh_token, undefined, "no refresh token without the grant");
  const info = await client.fetchUserInfo(spaConfig, got.access_token, claims.sub);
  equal(info.email, email, "userinfo for the public client");
  // A public client may not introspect (no secret).
  const e = await refused(() => client.tokenIntrospection(spaConfig, got.access_token), "introspection by a public client");
  equal(e.status, 401, "a public client's introspection is 401");
  // With a Basic challenge the library stops at the header (the body is
  // still unread): read the RFC 6749 error from it.
  const code = e.error ?? (e.response ? (await e.response.json()).error : undefined);
  equal(code, "invalid_client", "a public client's introspection is invalid_client");
});

await step("RP-initiated logout with the library's end-session URL", async () => {
  const url = client.buildEndSessionUrl(webConfig, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: `${appUrl}/signed-out`,
    state: "bye-1",
  });
  equal(url.origin + url.pathname, `${base}/oauth2/logout`, "end_session_endpoint");
  const back = nextArrival("/signed-out");
  await page.goto(url.href);
  const landed = await back;
  equal(landed.searchParams.get("state"), "bye-1", "state on the way back");
  // Signed out: the next authorization asks for a sign-in.
  const again = client.buildAuthorizationUrl(webConfig, {
    redirect_uri: `${appUrl}/callback`, scope: "openid", state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
  });
  await page.goto(again.href);
  check(page.url().startsWith(`${base}/signin`), `the sign-in page again: ${page.url()}`);
});

clearTimeout(watchdog);
await cleanup();
console.log(`openid-client: all ${checks} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(0);
