#!/usr/bin/env python3
"""External-client test of Warden's gRPC API: compiles the repo's proto files
with grpcio-tools, starts the real `warden` binary ($WARDEN_BIN) on a temp data
dir, and runs sign-up, sign-in, validate, refresh, sign-out, the error codes,
a health check and reflection with grpcio. Run by .ci/run:

    WARDEN_BIN=target/debug/warden python3 crates/grpc/tests/python/grpc_client_test.py
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import uuid

import grpc
from suite_runner import run_in_order
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_tools import protoc

REPO = pathlib.Path(__file__).resolve().parents[4]
PASSWORD = "correct horse battery staple 9!"


def compile_protos(out: str) -> None:
    args = [
        "grpc_tools.protoc",
        f"-I{REPO / 'proto'}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        "warden/v1/auth.proto",
        "warden/v1/admin.proto",
    ]
    os.makedirs(out, exist_ok=True)
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on proto/warden/v1")
    sys.path.insert(0, out)


def start_warden(data_dir: str) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    env["WARDEN_LOG_LEVEL"] = "warn"
    binary = os.environ["WARDEN_BIN"]
    proc = subprocess.Popen(
        [binary, "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"gRPC (\S+) ", line)
    if not match:
        proc.kill()
        raise SystemExit(f"warden did not report a gRPC address: {line!r}")
    return proc, match.group(1)


def code_of(err: grpc.RpcError) -> str:
    """The contract's stable code: the `warden-code` trailer, which must agree
    with the message prefix."""
    trailer = dict(err.trailing_metadata() or ()).get("warden-code")
    assert err.details().startswith(f"{trailer}: "), err.details()
    return trailer


def expect_error(call, status: grpc.StatusCode, code: str) -> None:
    try:
        call()
    except grpc.RpcError as err:
        assert err.code() == status, (err.code(), err.details())
        assert code_of(err) == code, err.details()
        return
    raise AssertionError(f"expected {status} {code}")


def bearer(token: str):
    return (("authorization", f"Bearer {token}"),)


class Suite:
    def __init__(self, channel):
        from warden.v1 import auth_pb2, auth_pb2_grpc  # generated above

        self.pb = auth_pb2
        self.auth = auth_pb2_grpc.AuthServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)
        self.reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        self.email = f"py-{uuid.uuid4().hex}@example.com"

    def test_sign_up_returns_user_and_tokens(self):
        res = self.auth.SignUp(self.pb.SignUpRequest(email=self.email, password=PASSWORD))
        assert res.user.email == self.email
        assert list(res.user.roles) == ["user"]
        assert res.user.status == "active"
        assert res.tokens.token_type == "Bearer"
        assert res.tokens.refresh_token.startswith("wrt_")
        assert res.tokens.expires_in == 900
        self.user_id = res.user.id
        expect_error(
            lambda: self.auth.SignUp(self.pb.SignUpRequest(email=self.email, password=PASSWORD)),
            grpc.StatusCode.ALREADY_EXISTS,
            "email_taken",
        )
        expect_error(
            lambda: self.auth.SignUp(self.pb.SignUpRequest(email="nope", password=PASSWORD)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        )

    def test_sign_in_and_validate(self):
        tokens = self.auth.SignIn(self.pb.SignInRequest(email=self.email, password=PASSWORD)).tokens
        self.tokens = tokens
        identity = self.auth.Validate(self.pb.ValidateRequest(token=tokens.access_token))
        assert identity.active and identity.sub == self.user_id
        assert identity.sid == tokens.session_id
        assert identity.token_type == "access_token"
        from_metadata = self.auth.Validate(
            self.pb.ValidateRequest(), metadata=bearer(tokens.access_token)
        )
        assert from_metadata.sub == self.user_id
        me = self.auth.GetUser(self.pb.GetUserRequest(), metadata=bearer(tokens.access_token))
        assert me.user.email == self.email
        expect_error(
            lambda: self.auth.SignIn(self.pb.SignInRequest(email=self.email, password="wrong horse")),
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid_credentials",
        )
        expect_error(
            lambda: self.auth.Validate(self.pb.ValidateRequest(token="garbage")),
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid_token",
        )

    def test_refresh_rotates_and_reuse_is_detected(self):
        old = self.tokens.refresh_token
        fresh = self.auth.Refresh(self.pb.RefreshRequest(refresh_token=old)).tokens
        assert fresh.refresh_token != old and fresh.session_id == self.tokens.session_id
        assert self.auth.Validate(self.pb.ValidateRequest(token=fresh.access_token)).sub == self.user_id
        expect_error(
            lambda: self.auth.Refresh(self.pb.RefreshRequest(refresh_token=old)),
            grpc.StatusCode.UNAUTHENTICATED,
            "refresh_token_reused",
        )

    def test_sign_out_revokes_the_session(self):
        tokens = self.auth.SignIn(self.pb.SignInRequest(email=self.email, password=PASSWORD)).tokens
        self.auth.SignOut(self.pb.SignOutRequest(), metadata=bearer(tokens.access_token))
        expect_error(
            lambda: self.auth.Validate(self.pb.ValidateRequest(token=tokens.access_token)),
            grpc.StatusCode.UNAUTHENTICATED,
            "token_revoked",
        )
        expect_error(
            lambda: self.auth.SignOut(self.pb.SignOutRequest()),
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid_token",
        )

    def test_health_check_is_serving(self):
        for service in ("", "warden.v1.AuthService", "warden.v1.AdminService"):
            res = self.health.Check(health_pb2.HealthCheckRequest(service=service))
            assert res.status == health_pb2.HealthCheckResponse.SERVING, service

    def test_reflection_lists_the_services(self):
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answer = next(self.reflection.ServerReflectionInfo(iter([request])))
        names = {s.name for s in answer.list_services_response.service}
        assert {"warden.v1.AuthService", "warden.v1.AdminService", "grpc.health.v1.Health"} <= names, names


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        compile_protos(os.path.join(tmp, "gen"))
        proc, address = start_warden(os.path.join(tmp, "data"))
        passed = failed = 0
        try:
            with grpc.insecure_channel(address) as channel:
                grpc.channel_ready_future(channel).result(timeout=10)
                suite = Suite(channel)
                passed, failed = run_in_order(suite)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        print(f"{passed} passed, {failed} failed")
        return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
