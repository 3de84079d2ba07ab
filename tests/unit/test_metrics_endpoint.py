"""local/metrics_endpoint.py: the folder's bookkeeping and the endpoint, with prometheus-client's real files.

Writers are real processes in multiprocess mode (the variable set before they import
prometheus-client), as the server's processes are.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from local.metrics_endpoint import DIR_PREFIX, drop_dead_processes, fresh_dir, start, sweep_stale_dirs

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
from chalicelib.metrics.prometheus import PrometheusMetrics
m = PrometheusMetrics()
for _ in range({n}):
    m.http_request("/entity/{{db}}", "PUT", 200, 0.001)
m.workers_available({workers})
"""


def write(folder: Path, n: int, workers: int) -> None:
    """A process that records ``n`` requests and a gauge, then exits."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    code = WRITER.format(n=n, workers=workers)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def test_counts_of_exited_processes_add_up_and_their_live_gauges_are_dropped(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    write(folder, 3, workers=5)
    write(folder, 4, workers=7)
    assert len(list(folder.glob("counter_*.db"))) == 2
    assert len(list(folder.glob("gauge_livemostrecent_*.db"))) == 2
    server = start("127.0.0.1", 0, folder)
    try:
        got = scrape(server.server_port)
        assert got["deltadb_http_requests_total"] == 7  # both exited processes' counts
        assert "deltadb_workers_available" not in got  # their live gauges: dropped, being dead
        assert not list(folder.glob("gauge_livemostrecent_*.db"))
        assert len(list(folder.glob("counter_*.db"))) == 2  # counters are kept
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/other", timeout=5)
        assert err.value.code == 404
    finally:
        server.shutdown()


def test_a_live_processes_gauge_is_kept(tmp_path: Path) -> None:
    (tmp_path / f"gauge_livemostrecent_{os.getpid()}.db").write_bytes(b"")
    assert drop_dead_processes(tmp_path) == []
    assert (tmp_path / f"gauge_livemostrecent_{os.getpid()}.db").exists()


def test_fresh_dir_sweeps_folders_of_dead_runs_only(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{DIR_PREFIX}{int(dead.stdout)}-abc"
    live = tmp_path / f"{DIR_PREFIX}{os.getppid()}-def"
    other = tmp_path / "unrelated"
    for d in (stale, live, other):
        d.mkdir()
        (d / "counter_1.db").write_bytes(b"")
    made = fresh_dir(tmp_path)
    assert made.name.startswith(f"{DIR_PREFIX}{os.getpid()}-") and not list(made.iterdir())
    assert not stale.exists() and live.exists() and other.exists()
    assert sweep_stale_dirs(tmp_path) == 0
