"""The container image and the compose topology, checked without a Docker engine.

Dockerfile: hadolint, every file it copies exists and is in the build context, every
variable it sets is a documented setting, its entrypoint is the ``deltadb`` console
script and its commands are the CLI's. compose-localstack.yml (MinIO, and LocalStack by
compose-localstack.override.yml): ``docker-compose config`` accepts it with the example
env file and refuses it without one, our reader (tests/deploy_files.py) agrees with it,
every service variable is a documented setting, secrets reach only the services that
need them. Kubernetes manifests: tests/integration/test_k8s_manifests.py.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import localstack_client.config
import pytest
import yaml

from chalicelib.config import Settings
from local.cli import COMMANDS, parser
from local.commands import WORKER_ONLY_ENV
from local.flags import declared
from local.server_settings import PORTS, ServerSettings
from tests.deploy_files import (
    COMPOSE,
    DOCKERFILE,
    ENV_EXAMPLE,
    LOCALSTACK_OVERRIDE,
    ROOT,
    VARIANTS,
    MissingVariable,
    compose_config,
    compose_services,
    dockerfile_env,
    dockerfile_instructions,
    exec_form,
    made_secrets,
    read_env_file,
)

SETTINGS = {var.name for _name, spec in declared() for var in spec.env}
# Variables that are not our settings: the interpreter's, and botocore's own (KMS endpoint, credentials).
RUNTIME_ENV = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
BOTOCORE_ENV = {"AWS_ENDPOINT_URL_KMS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
DELTADB_SERVICES = ("main", "worker-1", "worker-2", "worker-3")


def _readme_variables() -> set[str]:
    return set(re.findall(r"^\|[^|]*\| `([A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.MULTILINE))


# -- Dockerfile -------------------------------------------------------------------------------
def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    proc = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _dockerignore_allows(path: str) -> bool:
    """Whether .dockerignore lets ``path`` into the build context (last matching rule wins)."""
    allowed = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negate
    return allowed


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    copies = [rest.split() for word, rest in dockerfile_instructions() if word == "COPY"]
    sources = [src for args in copies if not args[0].startswith("--from") for src in args[:-1]]
    assert {"pyproject.toml", "app.py", "chalicelib", "local", "requirements.txt", "constraints.txt"} <= set(sources)
    for src in sources:
        assert (ROOT / src).exists(), src
        assert _dockerignore_allows(src), f"{src} is excluded by .dockerignore"
    assert not _dockerignore_allows("tests") and not _dockerignore_allows(".venv") and not _dockerignore_allows("data")
    # (the package's own data file, served at /openapi.json, comes with chalicelib/)
    assert (ROOT / "chalicelib" / "openapi.json").exists()


def test_only_runtime_dependencies_are_installed_at_pinned_versions() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {re.split(r"[<>=;\s\[]", dep)[0].lower() for dep in pyproject["project"]["dependencies"]}
    pins = {
        line.split("==")[0].lower()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    runs = [rest for word, rest in dockerfile_instructions() if word == "RUN" and "pip install" in rest]
    (deps,) = [r for r in runs if "-r requirements.txt" in r]
    assert "-c constraints.txt" in deps
    named = [w.lower() for w in deps.split("-r requirements.txt", 1)[1].split() if not w.startswith("-")]
    listed = [re.split(r"[<>=;\s]", line)[0].lower() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    listed = [name for name in listed if name and not name.startswith("#")]
    for name in named + listed:
        assert name in runtime, f"{name} is not a runtime dependency (pyproject.toml)"
        assert name in pins, f"{name} is not pinned in constraints.txt"
    assert set(named + listed) == runtime, "every runtime dependency is installed"
    assert any("pip install --no-deps ." in r for r in runs)  # the package itself, nothing more


def test_every_variable_the_image_sets_is_a_documented_setting() -> None:
    env = dockerfile_env()
    ours = {k for k in env if k not in RUNTIME_ENV}
    assert ours == {"DELTADB_HOST", "DELTADB_DATA_DIR", "DELTADB_SECRETS_DIR"}
    assert ours <= SETTINGS and ours <= _readme_variables()
    app = Settings.from_env({k: env[k] for k in ours})
    server = ServerSettings.from_env(app, {k: env[k] for k in ours})
    assert (server.host, str(app.data_dir), str(app.resolved_secrets_dir)) == ("0.0.0.0", "/data", "/secrets")
    volumes = [yaml.safe_load(rest) for word, rest in dockerfile_instructions() if word == "VOLUME"]
    assert volumes == [["/data", "/secrets"]]


def test_entrypoint_is_the_console_script_and_runs_as_non_root() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert exec_form("ENTRYPOINT") == ["deltadb"] and scripts["deltadb"] == "local.cli:main"
    assert exec_form("CMD") == ["serve"] and set(COMMANDS) == {"serve", "up", "worker"}
    parser().parse_args(exec_form("CMD"))
    (user,) = [rest for word, rest in dockerfile_instructions() if word == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    health = exec_form("HEALTHCHECK")
    assert health[:2] == ["python", "-c"] and f"127.0.0.1:{PORTS['serve']}/health" in health[2]
    compile(health[2], "healthcheck", "exec")  # valid Python


# -- compose ------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request: pytest.FixtureRequest) -> tuple[str, dict[str, dict[str, Any]]]:
    name = str(request.param)
    return name, compose_services(VARIANTS[name], made_secrets("container-admin-key-0123456789"))


def test_compose_config_accepts_the_files_with_the_example_env_file(
    variant: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    name, _made = variant
    ours = compose_services(VARIANTS[name], read_env_file())
    proc = compose_config(VARIANTS[name], ENV_EXAMPLE)
    assert proc.returncode == 0, proc.stderr
    theirs = yaml.safe_load(proc.stdout)["services"]
    assert set(theirs) == set(ours) == {"localstack", "minio", "init", *DELTADB_SERVICES}
    for service in DELTADB_SERVICES:  # our reader (which the e2e test runs) agrees with compose
        assert theirs[service]["environment"] == ours[service]["environment"], service
        assert theirs[service]["command"] == ours[service]["command"], service
        assert theirs[service]["image"] == ours[service]["image"] == "deltadatabase:local"
        assert theirs[service]["healthcheck"]["test"] == ours[service]["healthcheck"]["test"]
    assert "$MINIO_ACCESS_KEY" in theirs["init"]["command"][0]  # $$ reached the shell as $


def test_compose_config_refuses_to_start_without_the_secrets() -> None:
    proc = compose_config((COMPOSE,), None)
    assert proc.returncode != 0 and "in deltadb.env" in proc.stderr
    with pytest.raises(MissingVariable, match=r"in deltadb\.env"):
        compose_services((COMPOSE,), {})


def test_the_env_file_is_not_committed_and_the_example_names_every_secret() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "deltadb.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0
    required = set()
    for path in VARIANTS["localstack"]:
        required |= set(re.findall(r"\$\{([A-Z0-9_]+):\?", path.read_text()))
    assert required == set(read_env_file())


def test_services_use_only_documented_settings(variant: tuple[str, dict[str, dict[str, Any]]]) -> None:
    _name, services = variant
    for service in DELTADB_SERVICES:
        env = services[service]["environment"]
        assert set(env) <= SETTINGS | BOTOCORE_ENV, service
        assert set(env) & SETTINGS <= _readme_variables()
        args = parser().parse_args(services[service]["command"])  # a command of the CLI
        settings = Settings.from_env(env)  # valid: Settings.check passes
        assert settings.role == ("main" if service == "main" else "worker")
        if service != "main":
            assert (args.command, args.worker_id, args.port) == ("worker", service, "9000")
            assert settings.backend == "s3"


def test_the_main_worker_holds_no_keys_and_reaches_every_worker(
    variant: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    _name, services = variant
    main = services["main"]
    assert not set(main["environment"]) & set(WORKER_ONLY_ENV)
    assert not any(k.startswith(("AWS_", "S3_")) for k in main["environment"])
    settings = Settings.from_env(main["environment"])
    assert settings.invoker == "pool"
    assert settings.worker_urls == tuple(f"http://worker-{i}:9000" for i in (1, 2, 3))
    workers = [services[f"worker-{i}"]["environment"] for i in (1, 2, 3)]
    assert {w["DELTADB_WORKER_SECRET"] for w in workers} == {main["environment"]["DELTADB_WORKER_SECRET"]}
    assert all("DELTADB_SESSION_SECRET" not in w and "DELTADB_ADMIN_KEY_SHA256" not in w for w in workers)


def test_health_checks_and_start_order(variant: tuple[str, dict[str, dict[str, Any]]]) -> None:
    _name, services = variant
    for name, service in services.items():
        assert name == "init" or "healthcheck" in service, name
    assert services["init"]["depends_on"] == {
        "minio": {"condition": "service_healthy"},
        "localstack": {"condition": "service_healthy"},
    }
    for i in (1, 2, 3):
        assert services[f"worker-{i}"]["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
    assert services["main"]["depends_on"] == {f"worker-{i}": {"condition": "service_healthy"} for i in (1, 2, 3)}
    for service in DELTADB_SERVICES:
        compile(services[service]["healthcheck"]["test"][-1], service, "exec")


def test_the_localstack_switch_uses_localstacks_endpoints() -> None:
    services = compose_services(VARIANTS["localstack"], made_secrets("container-admin-key-0123456789"))
    port = localstack_client.config.get_service_port("s3")
    assert localstack_client.config.get_service_port("kms") == port
    for i in (1, 2, 3):
        env = services[f"worker-{i}"]["environment"]
        assert env["S3_ENDPOINT"] == env["AWS_ENDPOINT_URL_KMS"] == f"http://localstack:{port}"
        settings = Settings.from_env(env)
        assert settings.kms_key_id == "alias/deltadb" and settings.master_key is None
    assert f"4566:{port}" in yaml.safe_load(COMPOSE.read_text())["services"]["localstack"]["ports"][0]
    assert "main" not in yaml.safe_load(LOCALSTACK_OVERRIDE.read_text())["services"]
