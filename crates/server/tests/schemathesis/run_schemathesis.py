#!/usr/bin/env python3
"""The served OpenAPI document against the real `warden` binary ($WARDEN_BIN),
checked by schemathesis: every answer's status, content type, headers and
body must be the ones /openapi.json documents, and none may be a 5xx. Run
by .ci/run (schemathesis pinned there):

    WARDEN_BIN=target/debug/warden python3 crates/server/tests/schemathesis/run_schemathesis.py

Two runs, both with a fixed seed and a bounded number of cases:

- as an admin (created with `warden user add`, signed in for a bearer
  token), leaving out the operations that would end that token's own
  session (sign-out, sign-out everywhere, deleting one's own session) or
  demote the admin (replacing roles);
- with no credential at all (schemathesis then makes up its own).

Extra arguments are passed to both schemathesis runs (`--max-examples 5`).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

PASSWORD = "correct horse battery staple 9!"
EMAIL = "schemathesis-admin@example.com"
SEED = "20261205"
MAX_EXAMPLES = "50"
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
])
# Operations that end the admin's own session or take its role away: run
# with the admin's token they would turn the rest of the run into 401s.
ADMIN_RUN_EXCLUDED = ["signout", "signout_all", "delete_session", "set_roles", "delete_me"]


def warden_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    env["WARDEN_LOG_LEVEL"] = "error"
    env["WARDEN_PASSWORDS_ARGON2_MEMORY_KIB"] = "1024"
    env["WARDEN_PASSWORDS_ARGON2_ITERATIONS"] = "1"
    return env


def start_warden(data_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [os.environ["WARDEN_BIN"], "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0",
         "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=warden_env(),
        text=True,
    )
    line = proc.stdout.readline()
    http = re.search(r"(http://\S+)", line)
    if not http:
        proc.kill()
        raise SystemExit(f"warden did not report its address: {line!r}")
    return proc, http.group(1)


def add_admin(data_dir: str) -> None:
    subprocess.run(
        [os.environ["WARDEN_BIN"], "user", "add", "--email", EMAIL, "--role", "admin",
         "--data-dir", data_dir],
        input=PASSWORD + "\n", text=True, env=warden_env(), check=True, capture_output=True,
    )


def sign_in(base: str) -> str:
    request = urllib.request.Request(
        base + "/v1/signin",
        data=json.dumps({"email": EMAIL, "password": PASSWORD}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def schemathesis(base: str, workdir: str, label: str, extra: list[str]) -> int:
    program = shutil.which("schemathesis", path=os.path.dirname(sys.executable)) \
        or shutil.which("schemathesis")
    if program is None:
        raise SystemExit("schemathesis is not installed (pip install schemathesis)")
    command = [
        program, "run", f"{base}/openapi.json",
        "--checks", CHECKS,
        "--seed", SEED,
        "--max-examples", MAX_EXAMPLES,
        "--generation-database", "none",
        "--workers", "1",
        "--request-timeout", "10",
        "--no-color",
        *extra,
    ]
    shown = ["Authorization: Bearer [redacted]" if arg.startswith("Authorization:") else arg
             for arg in command]
    print(f"schemathesis ({label}): {' '.join(shown)}", flush=True)
    started = time.monotonic()
    # Its report directory and any cassette stay in the throwaway dir.
    result = subprocess.run(command, cwd=workdir)
    print(f"schemathesis ({label}): exit {result.returncode} after "
          f"{time.monotonic() - started:.0f} s", flush=True)
    return result.returncode


def main() -> int:
    extra = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="warden-schemathesis-") as tmp:
        data_dir = os.path.join(tmp, "data")
        proc, base = start_warden(data_dir)
        try:
            add_admin(data_dir)
            token = sign_in(base)
            excluded = [arg for op in ADMIN_RUN_EXCLUDED
                        for arg in ("--exclude-operation-id", op)]
            admin = schemathesis(base, tmp, "admin token", [
                "--header", f"Authorization: Bearer {token}", *excluded, *extra,
            ])
            anonymous = schemathesis(base, tmp, "no credential", extra)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    if admin or anonymous:
        print("schemathesis: the served API does not match /openapi.json", file=sys.stderr)
        return 1
    print("schemathesis: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
