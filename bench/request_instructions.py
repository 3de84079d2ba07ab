"""Instructions per request, ours beside the reference, counted by valgrind: figures that hold still.

bench/request_cpu.py times CPU with ``getrusage``, and on a shared 2-core VM that moves
by a factor of two or three from one hour to the next (the same PUT: 180 µs of user CPU
one day, 550 the next). Callgrind counts the instructions the process executes in user
space instead: the same code and inputs give the same count, whatever else the machine
does, so a cut of a few per cent can be seen and kept or dropped on evidence.

Each app (ours: local/asgi.py with its file storage; the reference: bench/reference_server.py)
runs the in-process requests of request_cpu.py under ``valgrind --tool=callgrind``. The
process marks where a counted stretch begins and ends with a ``getsid`` system call
(callgrind dumps its counts before each: ``--dump-before=getsid``), so start-up and
warm-up are left out. ``--layers`` counts each entry point of our request path the same
way (those of request_layers.py: ASGI app, gateway and route, auth, service, handler
call, entity store, storage), one stretch each. Kernel work (system calls, fsync) is not
counted: this is the user-space share, where ours and the reference differ.

    python bench/request_instructions.py                  # PUT and GET, 200 requests each
    python bench/request_instructions.py --layers         # ours, per layer ("own" = minus the layers it calls)
    python bench/request_instructions.py --access-log     # ours at INFO, as `deltadb serve` runs by default
    python bench/request_instructions.py --phases put --top 15   # + the C functions that cost most
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WARM = 50


def mark() -> None:
    """Where a counted stretch begins or ends: callgrind dumps its counts before every ``getsid``."""
    os.getsid(0)


def stretches(app_name: str, phase: str, by_layer: bool, access_log: bool) -> list[tuple[str, Callable[[int], Any]]]:
    """(name, call) of each stretch to count, in the valgrind'd process, after building and warming the app."""
    sys.path.insert(0, str(BENCH))
    from request_cpu import call, document, our_app, prepare, quiet_logs, reference_app, scope

    quiet_logs()
    data = Path(tempfile.mkdtemp(prefix="request-instructions-"))
    (data / "reference").mkdir()
    level = "INFO" if access_log else "WARNING"
    app, token = our_app(data, level) if app_name == "ours" else reference_app(data)
    asyncio.run(prepare(app, token, 1024))
    if by_layer:
        from request_layers import layers

        return layers(app, token, phase, 1024)

    async def request(i: int) -> Any:
        if phase == "put":
            sc, body = scope("PUT", "/entity/instr", "", token), f'{{"k{i}":{document(i, 1024)}}}'.encode()
        else:
            sc, body = scope("GET", "/entity/cpu-get", f"key=doc-{i % 500}", token), b""
        return await call(app, sc, body)

    return [(f"{app_name} {phase}", request)]


def child(app_name: str, phase: str, count: int, by_layer: bool, access_log: bool) -> None:
    loop = asyncio.new_event_loop()

    async def awaited(fn: Callable[[int], Any], first: int, n: int) -> None:
        for i in range(first, first + n):
            check(await fn(i))

    def check(result: Any) -> None:
        if isinstance(result, tuple) and isinstance(result[0], int) and result[0] != 200:
            raise SystemExit(f"{app_name} {phase}: {result[0]} {result[1][:200]!r}")

    def run(fn: Callable[[int], Any], first: int, n: int) -> None:
        if asyncio.iscoroutinefunction(fn):  # an ASGI call: all in one loop run, as a server's loop would
            loop.run_until_complete(awaited(fn, first, n))
        else:
            for i in range(first, first + n):
                check(fn(i))

    todo = stretches(app_name, phase, by_layer, access_log)
    for _name, fn in todo:
        run(fn, 0, WARM)  # warm, uncounted
    for _name, fn in todo:
        mark()
        run(fn, WARM, count)
    mark()


def counted(app_name: str, phase: str, count: int, by_layer: bool, out: Path, access_log: bool) -> list[Path]:
    """Run one child under callgrind; the profile of each counted stretch, in order."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts each run
    cmd = ["valgrind", "--tool=callgrind", "--dump-before=getsid", f"--callgrind-out-file={out}",
           sys.executable, __file__, "--child", app_name, phase, str(count)]  # fmt: skip
    cmd += (["--layers"] if by_layer else []) + (["--access-log"] if access_log else [])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"valgrind run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    parts = sorted(out.parent.glob(out.name + ".*"), key=lambda f: int(f.suffix[1:]))
    return parts[1:]  # part 1 is start-up and warm-up, up to the first mark


def total(profile: Path) -> int:
    found = re.search(r"^totals: (\d+)", profile.read_text(), re.M)
    return int(found.group(1)) if found else 0


def functions(profile: Path) -> dict[str, int]:
    """Exclusive instructions per C function of one profile."""
    done = subprocess.run(["callgrind_annotate", "--threshold=100", str(profile)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    costs: dict[str, int] = {}
    for line in done.stdout.splitlines():
        found = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*)", line)
        if found and "PROGRAM TOTALS" not in line:
            name = found.group(2).split(" [")[0].rsplit(":", 1)[-1]
            costs[name] = costs.get(name, 0) + int(found.group(1).replace(",", ""))
    return costs


def print_top(title: str, profile: Path, count: int, top: int) -> None:
    print(f"# {title}: instructions per request by C function (top {top})")
    whole = total(profile)
    # A dumped stretch charges the frames that were running at the mark (main, the
    # interpreter's entry) with all of it: they say nothing, so they are left out.
    costs = {name: n for name, n in functions(profile).items() if n < 0.95 * whole}
    for name, n in sorted(costs.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {n / count:12,.0f}  {name}")


def print_layers(phase: str, count: int, parts: list[Path], top: int) -> None:
    from request_layers import CALLS, LAYER_NAMES

    per_call = {name: total(part) / count for name, part in zip(LAYER_NAMES[phase], parts, strict=True)}
    if top:
        for name, part in zip(LAYER_NAMES[phase], parts, strict=True):
            print_top(f"{phase} {name}", part, count, top)
    print(f"\n{phase.upper():4} {'layer':64} {'instr/call':>11} {'own':>9}")
    for name, n in per_call.items():
        own = n - sum(per_call.get(c, 0.0) for c in CALLS.get(name, ()))
        print(f"{'':4} {name:64} {n:11,.0f} {own:9,.0f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=200, help="counted requests (calls) per stretch (default 200)")
    p.add_argument("--phases", default="put,get")
    p.add_argument("--only", choices=("ours", "reference"), help="count one app only")
    p.add_argument("--layers", action="store_true", help="ours, each layer of the request path on its own")
    p.add_argument("--top", type=int, default=0, help="also list the C functions that cost most, per stretch")
    p.add_argument("--access-log", action="store_true",
                   help="ours at INFO with its access log, as `deltadb serve` runs by default "
                   "(otherwise WARNING, as `make bench` runs it: the reference logs nothing)")  # fmt: skip
    p.add_argument("--child", nargs=3, metavar=("APP", "PHASE", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), args.layers, args.access_log)
        return 0
    sys.path.insert(0, str(BENCH))
    work = Path(tempfile.mkdtemp(prefix="callgrind-"))
    phases = args.phases.split(",")
    if args.layers:
        for phase in phases:
            parts = counted("ours", phase, args.requests, True, work / f"layers.{phase}", args.access_log)
            print_layers(phase, args.requests, parts, args.top)
        return 0
    apps = [args.only] if args.only else ["ours", "reference"]
    rows: dict[str, dict[str, float]] = {}
    for phase in phases:
        for app_name in apps:
            (part,) = counted(app_name, phase, args.requests, False, work / f"{app_name}.{phase}", args.access_log)
            rows.setdefault(phase, {})[app_name] = total(part) / args.requests
            if args.top:
                print_top(f"{app_name} {phase}", part, args.requests, args.top)
    print(f"{'phase':6} {'ours instr/request':>19} {'reference':>12} {'ratio':>7}")
    for phase, row in rows.items():
        ours, ref = row.get("ours", 0.0), row.get("reference", 0.0)
        ratio = f"{ours / ref:7.2f}" if ours and ref else f"{'-':>7}"
        print(f"{phase:6} {ours:19,.0f} {ref:12,.0f} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
