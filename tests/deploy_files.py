"""Readers of the deployment files (Dockerfile, compose-localstack.yml) for the tests.

The compose reader does what the compose client does with the parts we use: YAML with
anchors and merge keys, ``${VAR}`` / ``${VAR:-default}`` / ``${VAR:?error}`` / ``$$``
interpolation from an env file, and later files merged over earlier ones (a service's
``environment`` and ``depends_on`` key by key, anything else replaced).
tests/integration/test_container_artifacts.py checks that it agrees with
``docker-compose config``; tests/e2e/test_compose_settings.py runs the services with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose-localstack.yml"
LOCALSTACK_OVERRIDE = ROOT / "compose-localstack.override.yml"
ENV_EXAMPLE = ROOT / "deltadb.env.example"
VARIANTS = {"minio": (COMPOSE,), "localstack": (COMPOSE, LOCALSTACK_OVERRIDE)}
MERGED_KEYS = ("environment", "depends_on")


# -- Dockerfile ------------------------------------------------------------------------
def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        word, _, rest = text.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env(stage: int = -1) -> dict[str, str]:
    """The ENV of one build stage (default: the last, the image's), ``KEY=value`` form."""
    stages: list[list[tuple[str, str]]] = []
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((word, rest))
    env: dict[str, str] = {}
    for word, rest in stages[stage]:
        if word == "ENV":
            for item in rest.split():
                key, sep, value = item.partition("=")
                assert sep, f"ENV must use KEY=value: {rest}"
                env[key] = value
    return env


def exec_form(word: str) -> list[str]:
    """The JSON (exec form) arguments of the last ENTRYPOINT / CMD / HEALTHCHECK CMD."""
    (rest,) = [r for w, r in dockerfile_instructions() if w == word][-1:]
    rest = rest[rest.index("[") :]
    value = json.loads(rest)
    assert isinstance(value, list)
    return [str(v) for v in value]


# -- compose -----------------------------------------------------------------------------
def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def made_secrets(admin_key: str) -> dict[str, str]:
    """Valid values for every variable of deltadb.env.example, as a user makes them."""
    values = {
        "MINIO_ROOT_USER": "deltadb",
        "MINIO_ROOT_PASSWORD": secrets.token_urlsafe(24),
        "DELTADB_ADMIN_KEY_SHA256": hashlib.sha256(admin_key.encode()).hexdigest(),
        "DELTADB_SESSION_SECRET": base64.b64encode(secrets.token_bytes(48)).decode(),
        "DELTADB_WORKER_SECRET": base64.b64encode(secrets.token_bytes(48)).decode(),
        "DELTADB_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    assert set(values) == set(read_env_file()), "deltadb.env.example and the tests name the same secrets"
    return values


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class MissingVariable(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m[0] == "$$":
            return "$"
        name, op, arg = m[1] or m[4], m[2], m[3]
        value = env.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op is not None and op.endswith("?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        if op is not None and op.endswith("-") and unset:
            return str(arg)
        return value or ""

    return _VAR.sub(one, text)


def _interpolate_tree(obj: Any, env: dict[str, str]) -> Any:
    if isinstance(obj, str):
        return interpolate(obj, env)
    if isinstance(obj, list):
        return [_interpolate_tree(v, env) for v in obj]
    if isinstance(obj, dict):
        return {k: _interpolate_tree(v, env) for k, v in obj.items()}
    return obj


def compose_services(files: tuple[Path, ...], env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each service of the compose files, interpolated and merged (later files win)."""
    services: dict[str, dict[str, Any]] = {}
    for path in files:
        doc = _interpolate_tree(yaml.safe_load(path.read_text())["services"], env)
        for name, service in doc.items():
            merged = services.setdefault(name, {})
            for key, value in service.items():
                if key in MERGED_KEYS and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
    for service in services.values():  # compose's form: every value a string
        env_block = service.get("environment", {})
        service["environment"] = {k: "" if v is None else str(v) for k, v in env_block.items()}
    return services


def compose_client() -> list[str]:
    """``docker-compose`` (Debian's package, .ci/run installs it) or ``docker compose``.

    Missing: the test fails in CI (CI=true) and is skipped elsewhere.
    """
    if exe := shutil.which("docker-compose"):
        return [exe]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    message = "no compose client (apt-get install docker-compose; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def compose_config(files: tuple[Path, ...], env_file: Path | None) -> subprocess.CompletedProcess[str]:
    """``<compose> -f ... [--env-file ...] config``, run outside the repository (no .env there)."""
    cmd = [*compose_client(), *(a for f in files for a in ("-f", str(f)))]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    env = {k: v for k, v in os.environ.items() if k not in read_env_file()}  # only the file's values
    return subprocess.run([*cmd, "config"], capture_output=True, text=True, timeout=60, cwd="/", env=env, check=False)
