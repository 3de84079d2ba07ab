"""End-to-end fixtures: start the real ``deltadb serve`` process and always tear it down.

``server_factory`` starts any number of servers; ``pool`` is one ``deltadb up``;
``server`` is one shared instance per test module. The process handle itself,
``ServerProcess``, lives in tests/e2e/servers.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.servers import ADMIN_KEY, ServerFactory, ServerProcess


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """``server_factory(data_dir=None, admin_key=ADMIN_KEY, start=True, **kw)`` → ServerProcess.

    Every server made here is stopped (group SIGTERM, then SIGKILL) at teardown.
    """
    made: list[ServerProcess] = []
    counter = iter(range(1_000_000))

    def make(
        data_dir: Path | None = None,
        admin_key: str | None = ADMIN_KEY,
        *,
        start: bool = True,
        **kw: Any,
    ) -> ServerProcess:
        srv = ServerProcess(data_dir or tmp_path / f"data{next(counter)}", admin_key, **kw)
        made.append(srv)
        return srv.start() if start else srv

    try:
        yield make
    finally:
        for srv in made:
            srv.cleanup()


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[ServerProcess]:
    """`deltadb up --workers 2`: the main worker and two processing workers."""
    srv = ServerProcess(tmp_path / "data", command="up", workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One running server shared by a test module (tests use distinct database names)."""
    srv = ServerProcess(tmp_path_factory.mktemp("shared") / "data")
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()
