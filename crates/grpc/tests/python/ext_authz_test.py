#!/usr/bin/env python3
"""Envoy ext_authz against the real `warden` binary ($WARDEN_BIN), with
Envoy's own message types: `envoy-data-plane` (generated from Envoy's full
API by betterproto2) encodes the CheckRequest and decodes the CheckResponse,
grpcio carries them to `envoy.service.auth.v3.Authorization/Check`. So the
subset in proto/envoy/ is checked against Envoy's definitions, not against
itself. Run by .ci/run:

    WARDEN_BIN=target/debug/warden python3 crates/grpc/tests/python/ext_authz_test.py
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid

import grpc
from suite_runner import run_in_order
from envoy_data_plane.envoy.config.core.v3 import HeaderMap, HeaderValue
from envoy_data_plane.envoy.service.auth.v3 import (
    AttributeContext,
    AttributeContextHttpRequest,
    AttributeContextRequest,
    CheckRequest,
    CheckResponse,
)

PASSWORD = "correct horse battery staple 9!"
CHECK = "/envoy.service.auth.v3.Authorization/Check"
UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT = 16, 7, 3


def warden_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    env["WARDEN_LOG_LEVEL"] = "warn"
    env["WARDEN_PASSWORDS_ARGON2_MEMORY_KIB"] = "1024"
    env["WARDEN_PASSWORDS_ARGON2_ITERATIONS"] = "1"
    return env


def start_warden(tmp: str) -> tuple[subprocess.Popen, str, str]:
    config = os.path.join(tmp, "warden.toml")
    with open(config, "w") as f:
        f.write('[[verify.rule]]\nprefix = "/admin/"\nroles = ["admin"]\n')
    env = warden_env()
    env["WARDEN_CONFIG"] = config
    proc = subprocess.Popen(
        [os.environ["WARDEN_BIN"], "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0",
         "--data-dir", os.path.join(tmp, "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()
    http = re.search(r"(http://\S+)", line)
    grpc_addr = re.search(r"gRPC (\S+) ", line)
    if not (http and grpc_addr):
        proc.kill()
        raise SystemExit(f"warden did not report its addresses: {line!r}")
    return proc, http.group(1), grpc_addr.group(1)


def add_admin(tmp: str, email: str) -> None:
    env = warden_env()
    subprocess.run(
        [os.environ["WARDEN_BIN"], "user", "add", "--email", email, "--role", "admin",
         "--data-dir", os.path.join(tmp, "data")],
        input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True,
    )


def post(base: str, path: str, body=None, token=None) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, method="POST")
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def http_check(path: str, headers: dict, header_map=None) -> CheckRequest:
    http = AttributeContextHttpRequest(id="1", method="GET", path=path, host="app.test",
                                       scheme="https", headers=headers)
    if header_map is not None:
        http.header_map = HeaderMap(headers=[HeaderValue(key=k, raw_value=v) for k, v in header_map])
    return CheckRequest(attributes=AttributeContext(request=AttributeContextRequest(http=http)))


class Suite:
    def __init__(self, channel, base: str, tmp: str):
        self.check_rpc = channel.unary_unary(
            CHECK,
            request_serializer=CheckRequest.SerializeToString,
            response_deserializer=CheckResponse.FromString,
        )
        self.base = base
        self.tmp = tmp
        self.email = f"py-{uuid.uuid4().hex}@example.com"
        status, body = post(base, "/v1/signup", {"email": self.email, "password": PASSWORD})
        assert status == 201, body
        self.user_id = body["user"]["id"]
        self.token = body["tokens"]["access_token"]
        self.session = body["tokens"]["session_id"]

    def check(self, request: CheckRequest) -> CheckResponse:
        return self.check_rpc(request, timeout=10)

    def expect_denied(self, response: CheckResponse, code: int, http: int, stable: str) -> None:
        assert response.status.code == code, response
        denied = response.denied_response
        assert denied is not None and response.ok_response is None, response
        assert int(denied.status.code) == http, denied
        body = json.loads(denied.body)
        assert body["code"] == stable and body["status"] == http, body
        headers = {h.header.key: h.header.value for h in denied.headers}
        assert headers["content-type"] == "application/problem+json", headers
        if http == 401:
            assert headers["www-authenticate"].startswith("Bearer"), headers

    def test_a_valid_token_is_allowed_with_the_identity(self):
        response = self.check(http_check("/app/x", {
            "authorization": f"Bearer {self.token}",
            "x-warden-user": "admin",
            "x-warden-debug": "1",
        }))
        assert response.status.code == 0, response
        ok = response.ok_response
        assert ok is not None and response.denied_response is None, response
        headers = {h.header.key: h.header.value for h in ok.headers}
        assert headers == {
            "x-warden-user": self.user_id,
            "x-warden-session": self.session,
            "x-warden-roles": "user",
            "x-warden-acr": "aal1",
            "x-warden-amr": "pwd",
            "x-warden-kind": "user",
        }, headers
        assert list(ok.headers_to_remove) == ["x-warden-debug"], ok.headers_to_remove

    def test_raw_header_values_are_read(self):
        response = self.check(http_check(
            "/app/x", {}, header_map=[("authorization", f"Bearer {self.token}".encode())]))
        assert response.status.code == 0, response

    def test_missing_and_forged_tokens_are_denied(self):
        self.expect_denied(self.check(http_check("/app/x", {})), UNAUTHENTICATED, 401, "invalid_token")
        forged = self.token[:-6] + ("A" if self.token[-6] != "A" else "B") + self.token[-5:]
        for value in (f"Bearer {forged}", "Bearer x.y.z", "Basic YTpi"):
            response = self.check(http_check("/app/x", {"authorization": value}))
            self.expect_denied(response, UNAUTHENTICATED, 401, "invalid_token")

    def test_an_empty_request_is_denied(self):
        self.expect_denied(self.check(CheckRequest()), INVALID_ARGUMENT, 400, "invalid_request")

    def test_a_missing_role_is_denied_for_every_spelling_of_the_path(self):
        for path in ("/admin/x", "/%61dmin/x", "//admin/x", "/admin/../admin/x", "/admin;x", "/ADMIN/x"):
            response = self.check(http_check(path, {"authorization": f"Bearer {self.token}"}))
            self.expect_denied(response, PERMISSION_DENIED, 403, "forbidden")
        admin = f"py-admin-{uuid.uuid4().hex}@example.com"
        add_admin(self.tmp, admin)
        status, tokens = post(self.base, "/v1/signin", {"email": admin, "password": PASSWORD})
        assert status == 200, tokens
        response = self.check(http_check("/%61dmin/x", {"authorization": f"Bearer {tokens['access_token']}"}))
        assert response.status.code == 0, response

    def test_a_revoked_token_is_denied(self):
        status, _ = post(self.base, "/v1/signout", token=self.token)
        assert status == 204, status
        response = self.check(http_check("/app/x", {"authorization": f"Bearer {self.token}"}))
        self.expect_denied(response, UNAUTHENTICATED, 401, "token_revoked")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, address = start_warden(tmp)
        passed = failed = 0
        try:
            with grpc.insecure_channel(address) as channel:
                grpc.channel_ready_future(channel).result(timeout=10)
                suite = Suite(channel, base, tmp)
                passed, failed = run_in_order(suite)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        print(f"{passed} passed, {failed} failed")
        return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
