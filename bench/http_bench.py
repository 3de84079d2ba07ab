"""HTTP benchmark of ``deltadb serve`` driven by wrk.

One command::

    .venv/bin/python bench/http_bench.py               # starts its own server
    .venv/bin/python bench/http_bench.py --url http://127.0.0.1:8080 --token <session token>

Steps: start the server (free port, fresh temp data dir, random admin key) unless
``--url`` is given; log in for a session token; pre-write ``--entities`` documents of
``--doc-bytes`` JSON each; then, per phase, a short unrecorded wrk warm-up and a
recorded wrk run (``--connections`` connections, ``--wrk-threads`` threads,
``--duration`` seconds, ``--latency``):

* ``put``  PUT of one document per request to a key never written before (durable writes);
* ``get``  GET of a pre-written key chosen at random (warm reads);

first with the session token (what real clients send), then again with the raw admin
key (``--no-admin-key`` skips that). Prints a table plus machine info, writes the same as
JSON to ``bench/results/<timestamp>.json`` and exits 1 if any response was not 2xx or
any socket error / timeout happened. Exit 2: wrk missing or bad setup.
"""

# This module: the options and the run, phase by phase. Its parts, each in bench/http_bench_<part>.py:
# client (HTTP client, pre-write/read), server (start/stop), cpu (/proc accounting), wrk (driver,
# parsing), report (machine info, table, JSON result file).
from __future__ import annotations

import argparse
import datetime as dt
import secrets
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_bench_client import DB, FILL_PREFIX, GET_PREFIX, PUT_DB, Client, login, preread, prewrite, verify_puts
from http_bench_cpu import cpu_snapshot, cpu_usage
from http_bench_report import Run, failures_of, machine_info, print_failures, print_report, save_results
from http_bench_server import BENCH_DIR, REPO, Server, served_config, server_config, start_server
from http_bench_wrk import Phase, parse_wrk, run_wrk

RESULTS_DIR = BENCH_DIR / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="benchmark a running server (http://host:port) instead of starting one")
    p.add_argument(
        "--server", choices=["ours", "reference"], default="ours",
        help="server to start: ours, or the thinnest durable server on our stack (bench/reference_server.py)",
    )  # fmt: skip
    p.add_argument("--token", help="with --url: bearer credential for the session-token phases")
    p.add_argument(
        "--admin-key", help="with --url: admin key (used to log in when --token is absent, and for admin-key phases)"
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds per recorded phase (default 10)")
    p.add_argument(
        "--warmup", type=float, default=2.0, help="unrecorded wrk seconds before each phase (default 2; 0=off)"
    )
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--wrk-timeout", type=float, default=5.0, help="wrk per-request timeout in seconds (default 5)")
    p.add_argument("--entities", type=int, default=1000, help="pre-written entities for the GET phase (default 1000)")
    p.add_argument(
        "--put-prefill",
        type=int,
        default=1000,
        help="entities written into each PUT phase's fresh database before it runs (default 1000)",
    )
    p.add_argument("--doc-bytes", type=int, default=1024, help="JSON document size in bytes (default 1024)")
    p.add_argument("--phases", default="put,get", help="comma-separated, in order, from put,get (default put,get)")
    p.add_argument("--no-admin-key", action="store_true", help="skip the second round with the raw admin key")
    p.add_argument("--processes", type=int, help="server --processes (default: the server's default)")
    p.add_argument("--server-threads", type=int, help="server --threads (default: the server's default, 16)")
    p.add_argument("--repo", help="serve from this source tree instead of this repo (A/B runs of another commit)")
    p.add_argument("--data-root", help="where the temp data dir is created (default: $TMPDIR); pick the disk to test")
    p.add_argument("--keep-data", action="store_true", help="do not delete the temp data dir at the end")
    p.add_argument("--startup-timeout", type=float, default=30.0)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="wrk binary")
    p.add_argument("--results-dir", default=str(RESULTS_DIR), help="where <timestamp>.json goes")
    p.add_argument("--no-save", action="store_true", help="do not write the JSON result file")
    args = p.parse_args(argv)
    phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    if not phases or any(x not in ("put", "get") for x in phases):
        p.error("--phases takes put and/or get")
    args.phase_list = phases
    if args.url and not (args.token or args.admin_key):
        p.error("--url needs --token (or --admin-key to log in)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # keep stdout and stderr progress lines in order
    if not shutil.which(args.wrk):
        print(
            "wrk is not installed. Install it with:\n\n"
            "    sudo apt-get update && sudo apt-get install -y wrk      # Debian / Ubuntu\n"
            "    brew install wrk                                        # macOS\n",
            file=sys.stderr,
        )
        return 2

    started = dt.datetime.now(dt.UTC)
    server: Server | None = None
    phases: list[Phase] = []
    setup: dict[str, Any] = {}
    try:
        if args.url:
            url, admin_key = args.url.rstrip("/"), args.admin_key
            server_info: dict[str, Any] = {"mode": "external", "url": url, "processes": "?", "threads": "?"}
            data_path = None
        else:
            server = start_server(args)
            url, admin_key = server.url, server.admin_key
            server_info = {
                "mode": "started by bench",
                "url": url,
                "command": shlex.join(server.command),
                **served_config(server, args),
                "data_dir": str(server.workdir / "data"),
                **server_config(server.proc.pid),
            }
            data_path = server.workdir
        client = Client(url)
        token = args.token or login(client, str(admin_key))
        auths = [("session", token)]
        if not args.no_admin_key:
            if admin_key:
                auths.append(("admin-key", str(admin_key)))
            else:
                print("note: no --admin-key given; skipping the admin-key round", file=sys.stderr)

        if "get" in args.phase_list:
            setup["prewrite_s"] = round(prewrite(client, token, args.entities, args.doc_bytes), 3)
            setup["preread_s"] = round(preread(client, token, args.entities, args.doc_bytes), 3)
        info = machine_info(data_path, Path(args.repo).resolve() if args.repo and not args.url else REPO)

        pgid = server.proc.pid if server is not None else None
        idle_check = cpu_snapshot(None)
        time.sleep(1.0)
        info["busy_before_pct"] = cpu_usage(idle_check, cpu_snapshot(None), False)["machine_pct"]
        run_id = f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
        for auth_name, credential in auths:
            for name in args.phase_list:
                script = BENCH_DIR / f"wrk_{name}.lua"
                phase = Phase(name, auth_name, script.name)
                env = {"BENCH_TOKEN": credential, "BENCH_AUTH": auth_name, "BENCH_DB": DB}
                prefix = f"put-{run_id}-{auth_name}"
                if name == "put":
                    # Same starting state for every PUT phase: ext4 writes into a small folder are
                    # much slower under concurrency than into one of a few thousand entries.
                    env["BENCH_DB"] = PUT_DB.format(auth=auth_name)
                    setup[f"prefill_{env['BENCH_DB']}_s"] = round(
                        prewrite(client, token, args.put_prefill, args.doc_bytes, env["BENCH_DB"], FILL_PREFIX), 3
                    )
                    env |= {"BENCH_DOC_BYTES": str(args.doc_bytes), "BENCH_PUT_PREFIX": prefix}
                else:
                    env |= {"BENCH_KEYS": str(args.entities), "BENCH_GET_PREFIX": GET_PREFIX}
                if args.warmup > 0:
                    run_wrk(args, url, script, {**env, "BENCH_PUT_PREFIX": f"warm-{run_id}-{auth_name}"}, args.warmup)
                out, phase.command, cpu = run_wrk(args, url, script, env, args.duration, pgid)
                phase.result = parse_wrk(out)
                phase.result["cpu"] = cpu
                phase.result["wrk_stdout"] = out
                if name == "put" and phase.result["non_2xx"] == 0:
                    verify_puts(client, token, env["BENCH_DB"], prefix, args.wrk_threads, args.doc_bytes)
                phases.append(phase)
                r = phase.result
                print(
                    f"  {name:<4} {auth_name:<9} {r['rps']:>9,.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                    f"p99 {r['p99_ms']:.2f} ms  non-2xx {r['non_2xx']}",
                    file=sys.stderr,
                    flush=True,
                )
        client.close()
        if server is not None:
            server_info["log_tail"] = server.log_tail(20)
    finally:
        if server is not None:
            server.stop()
            if not args.keep_data:
                shutil.rmtree(server.workdir, ignore_errors=True)

    bench_cmd = shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(["http_bench.py", *argv])
    run = Run(started, bench_cmd, info, server_info, setup, phases, data_path)
    print_report(run, args)
    failures = failures_of(phases)
    if not args.no_save:
        save_results(run, args, failures)
    if failures:
        print_failures(failures, phases)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
