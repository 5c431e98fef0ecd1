#!/usr/bin/env python3
"""Checks that every setting the deploy files pass to Warden is accepted.

Reads the rendered Kubernetes manifests and deploy/compose.yaml, collects the
WARDEN_* variables of every container that runs `warden serve` or
`warden migrate` (ConfigMaps behind envFrom resolved, Secret references
replaced by well-formed stand-ins, *_FILE paths checked to be files mounted
from a Secret and readable by the container's user, then pointed at stand-in
files), and runs the real binary's `warden config check` with exactly that
environment.

The image's own ENV (per Dockerfile stage) is the base every container's
environment is laid over, as a container runtime does.

Usage: deploy_settings.py WARDEN_BINARY DOCKERFILE COMPOSE_FILE RENDERED.yaml...
"""

import base64
import os
import shlex
import subprocess
import sys
import tempfile

import yaml

# The one list of settings the deploy files pass but this branch's Warden
# does not know yet (teammates add them in parallel). They are left out of
# the check, and the check fails once one of them is accepted, so this list
# cannot go stale: delete an entry when its feature has landed.
PENDING: dict[str, str] = {}

# Stand-ins for Secret values, by key: well-formed, so that the check tests
# the setting and not the placeholder.
SECRET_STANDINS = {
    "database-url": "postgres://warden:standin@db.invalid:5432/warden",
    "keys-encryption-key": base64.b64encode(bytes(range(32))).decode(),
    "revocations-token": base64.b64encode(b"r" * 32).decode(),
}

WARDEN_COMMANDS = ("serve", "migrate")


def fail(message):
    print(f"deploy-settings: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def dockerfile_env(path):
    """ENV of each named stage of a Dockerfile (inherited ENV included)."""
    with open(path, encoding="utf-8") as f:
        text = f.read().replace("\\\n", " ")
    stages, current = {}, None
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        instruction = words[0].upper()
        if instruction == "FROM":
            parts = words[1].split()
            base = stages.get(parts[0], {})
            current = dict(base)
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else parts[0]
            stages[name] = current
        elif instruction == "ENV" and current is not None:
            for pair in shlex.split(words[1]):
                key, _, value = pair.partition("=")
                current[key] = value
    return stages


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def warden_command(args):
    """The Warden subcommand a container runs, if it is serve or migrate."""
    for arg in args or []:
        if arg in WARDEN_COMMANDS:
            return arg
    return None


def readable(mode, pod_spec, container):
    """Whether the container's user can read a Secret file of this mode.

    Kubernetes makes Secret files root-owned, group fsGroup when one is set.
    """
    user = container.get("securityContext", {}).get("runAsUser")
    if user is None:
        user = pod_spec.get("securityContext", {}).get("runAsUser")
    if user == 0:
        return bool(mode & 0o400)
    if pod_spec.get("securityContext", {}).get("fsGroup") is not None and mode & 0o040:
        return True
    return bool(mode & 0o004)


def secret_files_of(pod_spec, container, where):
    """Maps each file path a container sees from a Secret to the Secret key."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    files = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")
        if not secret:
            continue
        for item in secret.get("items", []):
            path = os.path.join(mount["mountPath"], item["path"])
            mode = item.get("mode", secret.get("defaultMode", 0o644))
            if not readable(mode, pod_spec, container):
                fail(f"{where}: {path} (mode {mode:o}) is not readable by the container's user")
            files[path] = item["key"]
    return files


def kubernetes_sources(path, image_env):
    docs = load_docs(path)
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            continue
        pod_spec = doc["spec"]["template"]["spec"]
        for container in pod_spec.get("initContainers", []) + pod_spec["containers"]:
            command = warden_command(container.get("args"))
            if command is None:
                continue
            where = f"{os.path.basename(path)}: {doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            env = dict(image_env)
            for source in container.get("envFrom", []):
                name = source.get("configMapRef", {}).get("name")
                if name is None:
                    fail(f"{where}: envFrom other than a ConfigMap is not checked")
                if name not in config_maps:
                    fail(f"{where}: ConfigMap {name} is not in the rendered manifests")
                env.update(config_maps[name])
            files = {}
            mounted = secret_files_of(pod_spec, container, where)
            for var in container.get("env", []):
                name = var["name"]
                if "value" in var:
                    env[name] = var["value"]
                    if name.endswith("_FILE"):
                        if var["value"] not in mounted:
                            fail(f"{where}: {name}={var['value']} is not a file mounted from a Secret")
                        files[name] = mounted[var["value"]]
                    continue
                key = var.get("valueFrom", {}).get("secretKeyRef", {}).get("key")
                if key is None:
                    fail(f"{where}: {name} is neither a value nor a Secret reference")
                if key not in SECRET_STANDINS:
                    fail(f"{where}: no stand-in for Secret key {key}: add one to SECRET_STANDINS")
                env[name] = SECRET_STANDINS[key]
            yield where, command, env, files


def compose_sources(path, stages):
    with open(path, encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    for name, service in compose["services"].items():
        command = warden_command(service.get("command"))
        if command is None:
            continue
        where = f"{os.path.basename(path)}: {name}"
        target = (service.get("build") or {}).get("target")
        if target not in stages:
            fail(f"{where}: builds Dockerfile target {target!r}, which does not exist")
        env = dict(stages[target])
        env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
        mounts = [v.split(":")[1] for v in service.get("volumes", []) if isinstance(v, str)]
        files = {}
        for key, value in env.items():
            if key.endswith("_FILE"):
                if not any(value.startswith(m.rstrip("/") + "/") for m in mounts):
                    fail(f"{where}: {key}={value} is under no mounted volume")
                files[key] = os.path.basename(value)
        yield where, command, env, files


def config_check(binary, env, workdir):
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": workdir}
    clean.update(env)
    return subprocess.run(
        [binary, "config", "check"],
        env=clean,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )


def main():
    if len(sys.argv) < 5:
        fail(__doc__)
    binary, dockerfile, compose, rendered = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    stages = dockerfile_env(dockerfile)
    if "runtime" not in stages:
        fail(f"{dockerfile} has no stage named runtime")
    sources = [s for path in rendered for s in kubernetes_sources(path, stages["runtime"])]
    sources += list(compose_sources(compose, stages))
    if not sources:
        fail("found no container running warden serve or migrate")
    seen_pending = set()
    checked = 0
    with tempfile.TemporaryDirectory() as workdir:
        for where, command, env, files in sources:
            env = dict(env)
            for var, key in files.items():
                standin = os.path.join(workdir, f"{where.replace('/', '_').replace(' ', '')}-{var}")
                with open(standin, "w", encoding="utf-8") as f:
                    f.write(SECRET_STANDINS.get(key, SECRET_STANDINS["revocations-token"]) + "\n")
                env[var] = standin
            for var in [v for v in env if v in PENDING]:
                seen_pending.add(var)
                del env[var]
            others = sorted(v for v in env if not v.startswith("WARDEN_"))
            if others:
                fail(f"{where}: not a Warden setting: {', '.join(others)}")
            result = config_check(binary, env, workdir)
            if result.returncode != 0:
                fail(f"{where} ({command}): warden config check refused {sorted(env)}:\n{result.stderr}")
            checked += len(env)
            print(f"deploy-settings: ok   {where} ({command}): {len(env)} settings")

        # A pending setting must still be unknown to this binary; once it is
        # accepted, it belongs in the check above.
        for var in sorted(seen_pending):
            value = SECRET_STANDINS["revocations-token"]
            if var.endswith("_FILE"):
                value = os.path.join(workdir, "pending-standin")
                with open(value, "w", encoding="utf-8") as f:
                    f.write(SECRET_STANDINS["revocations-token"] + "\n")
            elif var.endswith("_URL"):
                value = "nats://127.0.0.1:4222"
            elif var.endswith("_LISTEN"):
                value = "0.0.0.0:50051"
            result = config_check(binary, {var: value}, workdir)
            if result.returncode == 0:
                fail(f"{var} is accepted now: delete it from PENDING in {__file__}")
            if "unknown" not in result.stderr:
                fail(f"{var} is refused for another reason than being unknown:\n{result.stderr}")
            print(f"deploy-settings: left out {var} ({PENDING[var]}): not in this build yet")
    print(f"deploy-settings: {len(sources)} containers, {checked} settings accepted by warden config check")


if __name__ == "__main__":
    main()
