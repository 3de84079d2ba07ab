"""Real S3 server processes for tests: moto in server mode and LocalStack, on 127.0.0.1.

moto comes with the dev requirements. LocalStack needs its own Python 3.13 virtualenv
(see `make localstack`); point DELTADB_LOCALSTACK_PYTHON at its interpreter. When it is
missing the LocalStack tests are skipped, unless DELTADB_REQUIRE_LOCALSTACK=1 (CI),
which turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"S3 server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"S3 server did not start within {timeout}s:\n{log.read_text()[-3000:]}")


class S3Server:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], port: int, health: str, timeout: float) -> None:
        self.name = name
        self.endpoint = f"http://127.0.0.1:{port}"
        # How `deltadb --localstack` finds this server (localstack-client's LOCALSTACK_HOST).
        self.localstack_host = f"127.0.0.1:{port}"
        self.log = Path(tempfile.mkdtemp(prefix=f"{name}-")) / "server.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait(self.endpoint + health, self.proc, timeout, self.log)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        stop_group(self.proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to a process started with start_new_session=True and its group; SIGKILL after 10 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_moto() -> S3Server:
    port = free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    return S3Server("moto", [exe, "-H", "127.0.0.1", "-p", str(port)], env, port, "/moto-api/", 30)


def localstack_python() -> str | None:
    candidates = [os.environ.get("DELTADB_LOCALSTACK_PYTHON"), str(ROOT / ".venv-localstack" / "bin" / "python")]
    return next((c for c in candidates if c and Path(c).exists()), None)


def start_localstack() -> S3Server:
    python = localstack_python()
    if python is None:
        message = "LocalStack not installed (make localstack, or set DELTADB_LOCALSTACK_PYTHON)"
        if os.environ.get("DELTADB_REQUIRE_LOCALSTACK") == "1":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    state = tempfile.mkdtemp(prefix="localstack-state-")
    env = {
        **os.environ,
        "OVERRIDE_IN_DOCKER": "0",
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_SERVER": "hypercorn",
        "SERVICES": "s3,kms",
        "FILESYSTEM_ROOT": state,
        "DNS_ADDRESS": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "LOCALSTACK_CLI": "0",
    }
    return S3Server("localstack", [python, "-m", "localstack.runtime.main"], env, port, "/_localstack/health", 90)
