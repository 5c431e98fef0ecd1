#!/usr/bin/env python3
"""Authlib (PyPI) as a relying party against the real `warden` binary.

The authorization-code flow with PKCE (S256), state and nonce through
Debian's chromium driven by the `playwright` package (sign in on Warden's
page, consent), the exchange with Authlib's OAuth2Session, the ID token
validated with authlib.jose against the published JWKS (signature, iss,
aud, exp, iat, nonce, at_hash), userinfo, refresh (rotation: the old refresh
token is refused), client credentials, token introspection (RFC 7662) and
revocation (RFC 7009) with the session's introspect_token / revoke_token,
and a public client with PKCE. Run by .ci/run:

    WARDEN_BIN=target/debug/warden python3 crates/server/tests/rp/authlib_test.py

with authlib==1.9.10, requests==2.34.2 and playwright==1.65.3 installed.
WARDEN_TEST_CHROMIUM is the browser (default /usr/bin/chromium, never a
download). Everything listens on and talks to 127.0.0.1 only. Stops at the
first failed check with a message and a non-zero exit; gives up after
WARDEN_RP_TIMEOUT_SECS (default 110) rather than hang.
"""

import base64
import hashlib
import http.server
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from importlib.metadata import version
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from playwright.sync_api import sync_playwright

# authlib.jose is deprecated in favour of joserfc but is still Authlib's own
# JOSE; its import warning (which Authlib forces on) would only clutter the log.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt

BIN = os.environ.get("WARDEN_BIN", "")
CHROMIUM = os.environ.get("WARDEN_TEST_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_SECS = int(os.environ.get("WARDEN_RP_TIMEOUT_SECS", "110"))
PASSWORD = "correct horse battery staple 9!"
USERNAME = "Paul Python"
CHECKS = 0


class Failed(Exception):
    pass


def check(cond, what):
    global CHECKS
    if not cond:
        raise Failed(f"expected: {what}")
    CHECKS += 1


def equal(actual, expected, what):
    check(actual == expected, f"{what}: {expected!r}, got {actual!r}")


def refused(fn, what, errors=(Exception,)):
    """Runs fn, which must raise one of `errors`; returns the exception."""
    global CHECKS
    try:
        fn()
    except errors as e:  # noqa: PERF203
        CHECKS += 1
        return e
    raise Failed(f"expected a refusal: {what}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def at_hash(token: str) -> str:
    """OpenID Connect Core 3.1.3.6, RS256: the left half of SHA-256."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest()[:16])


def jwt_part(token: str, i: int) -> dict:
    part = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Harness:
    """The binary, its data dir, the app's callback server and the browser."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="warden-rp-py-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.warden = None
        self.callback = None
        self.arrivals = queue.Queue()
        self.playwright = None
        self.browser = None
        self.lock = threading.Lock()

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_") and k != "RUST_LOG"}
        env["WARDEN_LOG_LEVEL"] = "warn"
        # Fast hashing: the debug build is slow at the defaults.
        env["WARDEN_PASSWORDS_ARGON2_MEMORY_KIB"] = "8192"
        env["WARDEN_PASSWORDS_ARGON2_ITERATIONS"] = "1"
        return env

    def cli(self, args, stdin=None):
        out = subprocess.run(
            [BIN, *args, "--data-dir", self.data_dir],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=30,
            check=False,
        )
        if out.returncode != 0:
            raise Failed(f"warden {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return out.stdout

    def add_client(self, *args):
        out = self.cli(["client", "add", *args])
        cid = re.search(r"^client_id (\S+)$", out, re.M)
        secret = re.search(r"^client_secret (\S+)$", out, re.M)
        if not cid:
            raise Failed(f"no client_id in: {out}")
        return cid.group(1), secret.group(1) if secret else None

    def start_callback_server(self):
        arrivals = self.arrivals

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                host = self.headers.get("host", "127.0.0.1")
                arrivals.put(f"http://{host}{self.path}")
                body = b"<!doctype html><title>App</title><h1>Back at the app</h1>"
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.callback = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.callback.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.callback.server_address[1]}"

    def next_arrival(self, path):
        """The next request the browser made to the app at `path`."""
        deadline = time.monotonic() + 20
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"nothing arrived at {path} within 20 s")
            try:
                url = self.arrivals.get(timeout=left)
            except queue.Empty:
                continue
            if urlsplit(url).path == path:
                return url

    def drain(self):
        while not self.arrivals.empty():
            self.arrivals.get_nowait()

    def start_warden(self):
        """`warden serve` on a port chosen here: the issuer is the listen
        address, and discovery must name the URL the client asked."""
        for attempt in range(3):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            proc = subprocess.Popen(
                [BIN, "serve", "--http", f"127.0.0.1:{port}", "--grpc", "127.0.0.1:0", "--data-dir", self.data_dir],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self.env(),
                text=True,
            )
            line = [None]
            reader = threading.Thread(target=lambda: line.__setitem__(0, proc.stdout.readline()), daemon=True)
            reader.start()
            reader.join(30)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line[0] or "")
            if match:
                with self.lock:
                    self.warden = proc
                # Keep reading so a full pipe never blocks the server.
                threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
                return match.group(1)
            proc.kill()
            proc.wait()
            if attempt == 2:
                raise Failed(f"warden did not start: {line[0]!r}")
        raise AssertionError("unreachable")

    def launch_browser(self):
        profile = os.path.join(self.tmp, "chromium")
        os.makedirs(profile)
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            timeout=30000,
            args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
            env={**os.environ, "HOME": profile, "XDG_CONFIG_HOME": profile, "XDG_CACHE_HOME": profile},
        )
        context = self.browser.new_context()
        # Nothing leaves the machine.
        context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
        context.set_default_timeout(20000)
        return context.new_page()

    def stop_warden(self):
        with self.lock:
            proc, self.warden = self.warden, None
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def cleanup(self):
        try:
            if self.browser:
                self.browser.close()
            if self.playwright:
                self.playwright.stop()
        except Exception:  # noqa: BLE001
            pass
        self.browser = self.playwright = None
        self.stop_warden()
        if self.callback:
            self.callback.shutdown()
            self.callback = None
        shutil.rmtree(self.tmp, ignore_errors=True)


class Suite:
    def __init__(self, h: Harness):
        self.h = h
        self.email = f"rp-py-{int(time.time())}-{secrets.token_hex(3)}@example.com"

    # -- helpers --------------------------------------------------------

    def http(self):
        s = requests.Session()
        s.trust_env = False  # no proxy from the environment: 127.0.0.1 only
        return s

    def session(self, client_id, secret=None, redirect_uri=None, scope="openid email profile"):
        s = OAuth2Session(
            client_id,
            secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint=self.meta["token_endpoint"],
            default_timeout=15,
        )
        s.trust_env = False
        return s

    def authorize(self, sess, path, nonce, sign_in=False, consent=False):
        """Sends the browser to the authorization URL Authlib built; returns
        the URL it came back to, the state and the code verifier."""
        verifier = secrets.token_urlsafe(48)
        url, state = sess.create_authorization_url(self.meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        q = parse_qs(urlsplit(url).query)
        equal(q["code_challenge"], [create_s256_code_challenge(verifier)], "Authlib's S256 challenge")
        equal(q["code_challenge_method"], ["S256"], "code_challenge_method")
        equal(q["nonce"], [nonce], "nonce in the request")
        page = self.page
        self.h.drain()
        if sign_in:
            page.goto(url)
            page.wait_for_url(lambda u: u.startswith(f"{self.base}/signin"))
            page.fill("#email", self.email)
            page.fill("#password", PASSWORD)
            with page.expect_navigation(url=lambda u: urlsplit(u).path == "/oauth2/authorize"):
                page.click("form[action$='/signin'] button[type=submit]")
        if consent:
            heading = page.text_content("h1")
            check("Authlib Web" in heading, f"the consent page names the app: {heading}")
            scopes = page.text_content(".scopes")
            check("email address" in scopes, f"the consent page lists the email scope: {scopes}")
            page.click("button[value=allow]")
        elif not sign_in:
            page.goto(url)
        back = self.h.next_arrival(path)
        params = parse_qs(urlsplit(back).query)
        check(params.get("code", [""])[0].startswith("woc_"), f"a woc_ code: {back}")
        equal(params.get("state"), [state], "state returned")
        equal(params.get("iss"), [self.base], "iss returned (RFC 9207)")
        return back, state, verifier

    def jwks(self):
        keys = self.http().get(self.meta["jwks_uri"], timeout=15).json()
        return keys, JsonWebKey.import_key_set(keys)

    def id_claims(self, token, client_id, nonce):
        """The ID token validated with authlib.jose against the JWKS."""
        id_token = token["id_token"]
        keys, key_set = self.jwks()
        kid = jwt_part(id_token, 0)["kid"]
        check(any(k.get("kid") == kid for k in keys["keys"]), f"kid {kid} is in the JWKS")
        claims = jwt.decode(
            id_token,
            key_set,
            claims_cls=CodeIDToken,
            claims_options={
                "iss": {"essential": True, "value": self.base},
                "aud": {"essential": True, "value": client_id},
            },
            claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
        )
        claims.validate(leeway=5)
        return claims

    def introspect(self, sess, token, hint=None):
        r = sess.introspect_token(self.meta["introspection_endpoint"], token=token, token_type_hint=hint)
        equal(r.status_code, 200, f"introspection status ({r.text})")
        equal(r.headers.get("cache-control"), "no-store", "introspection Cache-Control")
        return r.json()

    def revoke(self, sess, token, hint):
        r = sess.revoke_token(self.meta["revocation_endpoint"], token=token, token_type_hint=hint)
        equal(r.status_code, 200, f"revocation status ({r.text})")

    # -- steps ----------------------------------------------------------

    def set_up(self):
        h = self.h
        self.app = h.start_callback_server()
        created = h.cli(["user", "add", "--email", self.email, "--username", USERNAME], stdin=f"{PASSWORD}\n")
        check(f"<{self.email}>" in created, f"warden user add names the user: {created}")
        self.web = h.add_client(
            "--name", "Authlib Web", "--type", "confidential",
            "--redirect-uri", f"{self.app}/callback",
            "--grant", "authorization_code", "--grant", "refresh_token",
        )
        check((self.web[1] or "").startswith("wcs_"), "a confidential client gets a wcs_ secret")
        self.service = h.add_client(
            "--name", "Authlib Service", "--type", "confidential",
            "--grant", "client_credentials", "--scope", "tickets:read", "--scope", "tickets:write",
        )
        self.spa = h.add_client(
            "--name", "Authlib SPA", "--type", "public", "--first-party",
            "--redirect-uri", f"{self.app}/spa", "--grant", "authorization_code",
        )
        check(self.spa[1] is None, "a public client gets no secret")
        self.base = h.start_warden()
        self.page = h.launch_browser()

    def discovery(self):
        r = self.http().get(f"{self.base}/.well-known/openid-configuration", timeout=15)
        equal(r.status_code, 200, "discovery status")
        self.meta = r.json()
        equal(self.meta["issuer"], self.base, "issuer")
        for name, path in [
            ("authorization_endpoint", "/oauth2/authorize"),
            ("token_endpoint", "/oauth2/token"),
            ("userinfo_endpoint", "/oauth2/userinfo"),
            ("introspection_endpoint", "/oauth2/introspect"),
            ("revocation_endpoint", "/oauth2/revoke"),
            ("jwks_uri", "/.well-known/jwks.json"),
        ]:
            equal(self.meta.get(name), self.base + path, name)
        equal(self.meta["code_challenge_methods_supported"], ["S256"], "code_challenge_methods_supported")
        check("client_credentials" in self.meta["grant_types_supported"], "client_credentials in grant_types_supported")

    def code_flow(self):
        self.web_sess = self.session(*self.web, redirect_uri=f"{self.app}/callback")
        self.nonce = secrets.token_urlsafe(16)
        back, state, verifier = self.authorize(self.web_sess, "/callback", self.nonce, sign_in=True, consent=True)
        # Authlib checks the state before any token request.
        refused(
            lambda: self.web_sess.fetch_token(authorization_response=back, state="another state", code_verifier=verifier),
            "a callback whose state differs",
            AuthlibBaseError,
        )
        token = self.web_sess.fetch_token(authorization_response=back, state=state, code_verifier=verifier)
        equal(token["token_type"].lower(), "bearer", "token_type")
        check(token["refresh_token"].startswith("wrt_"), "a wrt_ refresh token")
        check(0 < token["expires_in"] <= 900, f"expires_in in (0, 900]: {token['expires_in']}")
        equal(sorted(token["scope"].split()), ["email", "openid", "profile"], "scope granted")
        self.token = token

    def id_token(self):
        token = self.token
        claims = self.id_claims(token, self.web[0], self.nonce)
        equal(claims["iss"], self.base, "ID token iss")
        equal(claims["aud"], self.web[0], "ID token aud")
        equal(claims["nonce"], self.nonce, "ID token nonce")
        equal(claims["at_hash"], at_hash(token["access_token"]), "ID token at_hash")
        equal(claims["email"], self.email, "ID token email")
        check(re.fullmatch(r"[0-9a-f-]{36}", claims["sub"]), f"sub is the user id: {claims['sub']}")
        check(claims["exp"] > claims["iat"] and abs(claims["iat"] - time.time()) < 120, "iat is now, exp after it")
        check("pwd" in claims["amr"], f"amr names the password: {claims['amr']}")
        equal(jwt_part(token["id_token"], 0)["alg"], "RS256", "ID token alg")
        self.sub = claims["sub"]
        # The same validation must fail: another nonce, another audience, a
        # forged signature, an access token that is not the one hashed.
        _, key_set = self.jwks()

        def decode(id_token, aud, nonce, access):
            c = jwt.decode(
                id_token, key_set, claims_cls=CodeIDToken,
                claims_options={"iss": {"essential": True, "value": self.base}, "aud": {"essential": True, "value": aud}},
                claims_params={"nonce": nonce, "client_id": aud, "access_token": access},
            )
            c.validate(leeway=5)

        idt, acc = token["id_token"], token["access_token"]
        refused(lambda: decode(idt, self.web[0], "another nonce", acc), "an ID token with another nonce")
        refused(lambda: decode(idt, "another-client", self.nonce, acc), "an ID token for another audience")
        refused(lambda: decode(idt, self.web[0], self.nonce, acc + "x"), "an at_hash of another token")
        head, body, sig = idt.split(".")
        forged_body = b64url(json.dumps({**jwt_part(idt, 1), "email": "mallory@example.com"}).encode())
        refused(lambda: decode(f"{head}.{forged_body}.{sig}", self.web[0], self.nonce, acc), "a forged ID token")

    def userinfo(self):
        self.web_sess.token = self.token
        r = self.web_sess.get(self.meta["userinfo_endpoint"])
        equal(r.status_code, 200, f"userinfo status ({r.text})")
        info = r.json()
        equal(info["sub"], self.sub, "userinfo sub")
        equal(info["email"], self.email, "userinfo email")
        equal(info["email_verified"], False, "userinfo email_verified (the command line does not verify)")
        equal(info["name"], USERNAME, "userinfo name (scope profile)")
        equal(info["preferred_username"], USERNAME, "userinfo preferred_username")
        bad = self.http().get(self.meta["userinfo_endpoint"], headers={"authorization": "Bearer not-a-token"}, timeout=15)
        equal(bad.status_code, 401, "userinfo with a junk token")
        check('error="invalid_token"' in bad.headers.get("www-authenticate", ""), "an RFC 6750 invalid_token challenge")

    def refresh(self):
        old = self.token
        new = self.web_sess.refresh_token(self.meta["token_endpoint"], refresh_token=old["refresh_token"])
        check(new["access_token"] != old["access_token"], "a new access token")
        check(new["refresh_token"] != old["refresh_token"], "a new refresh token (rotation)")
        claims = self.id_claims(new, self.web[0], None)
        equal(claims["sub"], self.sub, "the refreshed ID token's sub")
        r = self.web_sess.get(self.meta["userinfo_endpoint"])
        equal(r.json().get("sub"), self.sub, "userinfo with the new access token")
        e = refused(
            lambda: self.web_sess.refresh_token(self.meta["token_endpoint"], refresh_token=old["refresh_token"]),
            "the old refresh token again",
            AuthlibBaseError,
        )
        equal(getattr(e, "error", None), "invalid_grant", "the old refresh token is invalid_grant")
        e = refused(
            lambda: self.web_sess.refresh_token(self.meta["token_endpoint"], refresh_token=new["refresh_token"]),
            "the new refresh token after a replay",
            AuthlibBaseError,
        )
        equal(getattr(e, "error", None), "invalid_grant", "reuse revoked the whole family")

    def code_replay(self):
        """RFC 6749 section 4.1.2: a code works once; a second use is
        refused and (SHOULD, and Warden documents it) revokes what the first
        one issued."""
        nonce = secrets.token_urlsafe(16)
        back, state, verifier = self.authorize(self.web_sess, "/callback", nonce)
        token = self.web_sess.fetch_token(authorization_response=back, state=state, code_verifier=verifier)
        self.id_claims(token, self.web[0], nonce)
        equal(self.introspect(self.web_sess, token["access_token"]).get("active"), True, "the grant is active")
        e = refused(
            lambda: self.web_sess.fetch_token(authorization_response=back, state=state, code_verifier=verifier),
            "a code used twice",
            AuthlibBaseError,
        )
        equal(getattr(e, "error", None), "invalid_grant", "a used code is invalid_grant")
        equal(self.introspect(self.web_sess, token["access_token"]), {"active": False}, "the replay revoked the first exchange's access token")
        e = refused(
            lambda: self.web_sess.refresh_token(self.meta["token_endpoint"], refresh_token=token["refresh_token"]),
            "the refresh token of a replayed code",
            AuthlibBaseError,
        )
        equal(getattr(e, "error", None), "invalid_grant", "and its refresh token")

    def client_credentials(self):
        sess = self.session(*self.service, scope=None)
        token = sess.fetch_token(grant_type="client_credentials")
        equal(token["scope"], "tickets:read tickets:write", "default scope: all the client's")
        check("refresh_token" not in token and "id_token" not in token, "no refresh or ID token")
        narrow = sess.fetch_token(grant_type="client_credentials", scope="tickets:read")
        equal(narrow["scope"], "tickets:read", "a narrower scope")
        payload = jwt_part(narrow["access_token"], 1)
        equal(payload["sub"], self.service[0], "the access token's sub is the client")
        equal(payload["iss"], self.base, "its iss")
        # The access token's signature, against the same JWKS.
        _, key_set = self.jwks()
        verified = jwt.decode(narrow["access_token"], key_set)
        verified.validate(leeway=5)
        equal(verified["client_id"], self.service[0], "the verified token's client_id")
        e = refused(lambda: sess.fetch_token(grant_type="client_credentials", scope="tickets:delete"), "a scope the client lacks", AuthlibBaseError)
        equal(getattr(e, "error", None), "invalid_scope", "an unregistered scope is invalid_scope")
        self.service_sess, self.service_token = sess, narrow

    def introspection_and_revocation(self):
        # A fresh grant (signed in, consented: straight back).
        nonce = secrets.token_urlsafe(16)
        back, state, verifier = self.authorize(self.web_sess, "/callback", nonce)
        token = self.web_sess.fetch_token(authorization_response=back, state=state, code_verifier=verifier)
        self.id_claims(token, self.web[0], nonce)
        live = self.introspect(self.web_sess, token["access_token"], "access_token")
        equal(live.get("active"), True, f"a live access token is active ({live})")
        equal(live.get("sub"), self.sub, "introspection sub")
        equal(live.get("client_id"), self.web[0], "introspection client_id")
        equal(live.get("iss"), self.base, "introspection iss")
        equal(live.get("token_type"), "Bearer", "introspection token_type")
        check(live["exp"] > time.time() > live["iat"] - 60, "introspection exp and iat around now")
        # Another confidential client may introspect too (a resource server).
        by_service = self.introspect(self.service_sess, token["access_token"])
        equal(by_service.get("active"), True, "active for another confidential client")
        # Warden documents refresh tokens as inactive to introspection.
        equal(self.introspect(self.web_sess, token["refresh_token"], "refresh_token"), {"active": False}, "a refresh token introspects inactive")
        equal(self.introspect(self.web_sess, "not-a-token"), {"active": False}, "junk introspects inactive")
        # RFC 7009 by the refresh token: the grant ends, access token included.
        self.revoke(self.web_sess, token["refresh_token"], "refresh_token")
        dead = self.introspect(self.web_sess, token["access_token"], "access_token")
        equal(dead, {"active": False}, "the access token of a revoked grant is inactive")
        e = refused(
            lambda: self.web_sess.refresh_token(self.meta["token_endpoint"], refresh_token=token["refresh_token"]),
            "a revoked refresh token",
            AuthlibBaseError,
        )
        equal(getattr(e, "error", None), "invalid_grant", "a revoked refresh token is invalid_grant")
        # RFC 7009 by the access token: the same.
        nonce = secrets.token_urlsafe(16)
        back, state, verifier = self.authorize(self.web_sess, "/callback", nonce)
        second = self.web_sess.fetch_token(authorization_response=back, state=state, code_verifier=verifier)
        equal(self.introspect(self.web_sess, second["access_token"]).get("active"), True, "the second grant is active")
        self.revoke(self.web_sess, second["access_token"], "access_token")
        equal(self.introspect(self.web_sess, second["access_token"]), {"active": False}, "revoked by its access token")
        e = refused(
            lambda: self.web_sess.refresh_token(self.meta["token_endpoint"], refresh_token=second["refresh_token"]),
            "the refresh token of a grant revoked by its access token",
            AuthlibBaseError,
        )
        equal(getattr(e, "error", None), "invalid_grant", "its refresh token is invalid_grant")
        # Unknown tokens: 200 all the same (RFC 7009 section 2.2).
        self.revoke(self.web_sess, "wrt_unknown", "refresh_token")

    def public_client(self):
        sess = self.session(self.spa[0], None, redirect_uri=f"{self.app}/spa", scope="openid email")
        equal(sess.token_endpoint_auth_method, "none", "a public client sends no secret")
        nonce = secrets.token_urlsafe(16)
        # First party: no consent page; signed in: straight back.
        back, state, verifier = self.authorize(sess, "/spa", nonce)
        e = refused(
            lambda: sess.fetch_token(authorization_response=back, state=state, code_verifier=secrets.token_urlsafe(48)),
            "a wrong PKCE verifier",
            AuthlibBaseError,
        )
        equal(getattr(e, "error", None), "invalid_grant", "a wrong verifier is invalid_grant")
        back, state, verifier = self.authorize(sess, "/spa", nonce)
        token = sess.fetch_token(authorization_response=back, state=state, code_verifier=verifier)
        claims = self.id_claims(token, self.spa[0], nonce)
        equal(claims["sub"], self.sub, "the same person")
        check("refresh_token" not in token, "no refresh token without the grant")
        r = sess.get(self.meta["userinfo_endpoint"])
        equal(r.json().get("email"), self.email, "userinfo for the public client")
        # Introspection needs a client secret.
        r = sess.introspect_token(self.meta["introspection_endpoint"], token=token["access_token"])
        equal(r.status_code, 401, "introspection by a public client")
        equal(r.json().get("error"), "invalid_client", "is invalid_client")

    def client_credentials_introspection(self):
        """RFC 7662 section 2.2: a token this server issued, unexpired and
        not revoked, is active, a service's own token included."""
        access = self.service_token["access_token"]
        got = self.introspect(self.web_sess, access, "access_token")
        equal(got.get("active"), True, f"a client-credentials access token is active ({got})")
        equal(got.get("sub"), self.service[0], "its sub is the client")
        equal(got.get("client_id"), self.service[0], "its client_id")
        equal(got.get("scope"), "tickets:read", "its scope")
        check("sid" not in got, "no session id: a service token has no session")
        # RFC 7009: 200 for the client's own token. Revoking an access token
        # is only a SHOULD (section 2), and Warden's revocation ends sessions,
        # which a service token has none of: say what happened, assert nothing.
        self.revoke(self.service_sess, access, "access_token")
        after = self.introspect(self.web_sess, access, "access_token")
        print(f"     note: a revoked client-credentials access token introspects active={after.get('active')}", flush=True)


def run(suite: Suite, steps) -> None:
    for name, fn in steps:
        started = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            detail = traceback.format_exc()
            if isinstance(e, AuthlibBaseError):
                detail += f"\n     error={getattr(e, 'error', None)!r} description={getattr(e, 'description', None)!r}"
            raise Failed(f"{name}: {e}\n{detail}") from None
        print(f"ok   {name} ({int((time.monotonic() - started) * 1000)} ms)", flush=True)


def main() -> int:
    if not BIN or not os.path.exists(BIN):
        print(f"FAIL setup: WARDEN_BIN must name the warden binary (got {BIN!r})")
        return 2
    started = time.monotonic()
    print(
        f"Authlib relying party against {BIN} (authlib {version('authlib')}, requests {version('requests')}, "
        f"playwright {version('playwright')})",
        flush=True,
    )
    h = Harness()

    def on_alarm(_signum, _frame):
        raise TimeoutError(f"the test did not finish within {TIMEOUT_SECS} s")

    # A wedged browser call may never return to the interpreter: past the
    # deadline by 10 s, stop the server, remove the files and leave.
    def last_resort():
        print(f"FAIL timeout: still running {TIMEOUT_SECS + 10} s after the start", flush=True)
        h.stop_warden()
        shutil.rmtree(h.tmp, ignore_errors=True)
        os._exit(1)

    def on_term(_signum, _frame):
        raise KeyboardInterrupt("terminated")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(TIMEOUT_SECS)
    watchdog = threading.Timer(TIMEOUT_SECS + 10, last_resort)
    watchdog.daemon = True
    watchdog.start()
    suite = Suite(h)
    try:
        run(
            suite,
            [
                ("set up: callback server, a user and three clients by the command line, chromium", suite.set_up),
                ("discovery document", suite.discovery),
                ("authorization code + PKCE S256 + state + nonce through chromium (sign in, consent), exchanged by OAuth2Session", suite.code_flow),
                ("ID token validated with authlib.jose against the JWKS (iss, aud, exp, nonce, at_hash; forgeries refused)", suite.id_token),
                ("userinfo", suite.userinfo),
                ("refresh: new tokens, the old refresh token refused", suite.refresh),
                ("a code used twice: invalid_grant, and the first exchange's tokens revoked", suite.code_replay),
                ("client credentials", suite.client_credentials),
                ("introspection (RFC 7662) and revocation (RFC 7009) with introspect_token / revoke_token", suite.introspection_and_revocation),
                ("a public client with PKCE", suite.public_client),
                ("introspection (and revocation) of a client-credentials access token", suite.client_credentials_introspection),
            ],
        )
    except (Failed, TimeoutError, KeyboardInterrupt) as e:
        print(f"FAIL {e}", flush=True)
        return 1
    finally:
        signal.alarm(0)
        h.cleanup()
        watchdog.cancel()
    print(f"Authlib: all {CHECKS} checks passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
