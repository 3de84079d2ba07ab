"""Real ``deltadb worker`` processes for the tests that run the routes through a worker pool."""

from __future__ import annotations

from pathlib import Path

from tests import s3servers


class WorkerPool:
    """Real `deltadb worker` processes on the test's data and secrets folders."""

    def __init__(self, tmp: Path, count: int) -> None:
        import os
        import secrets
        import subprocess
        import sys
        import time

        self.secret = secrets.token_urlsafe(32)
        ports = [s3servers.free_port() for _ in range(count)]
        self.urls = tuple(f"http://127.0.0.1:{p}" for p in ports)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")}
        env |= {"DELTADB_WORKER_SECRET": self.secret, "DELTADB_LOG_LEVEL": "WARNING"}
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "local.cli",
                    "worker",
                    "--port",
                    str(port),
                    "--worker-id",
                    f"w{i}",
                    "--data-dir",
                    str(tmp / "data"),
                    "--secrets-dir",
                    str(tmp / "secrets"),
                ],
                env=env,
                cwd=str(s3servers.ROOT),
                start_new_session=True,
            )
            for i, port in enumerate(ports)
        ]
        deadline = time.monotonic() + 30
        for port in ports:
            while not _listening(port):
                assert time.monotonic() < deadline, "worker processes did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        import os
        import signal

        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            proc.wait(15)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
