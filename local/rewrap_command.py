"""``deltadb rewrap [--db DB] [--json]``: everything under the current master key version.

Database key records still under an older master version are moved (one compare-and-swap
per database), format-1 entities are migrated to format 2; format-2 entities are counted
as skipped (chalicelib/walks.py). Online (the API keeps serving: compare-and-swap per
entity) and resumable: the walk's checkpoint is saved in the store after each page, so a
run stopped by Ctrl-C or ``kill -9`` continues where it was when started again (and says so). A progress bar
with rate and ETA on a terminal; ``--json`` prints one line
``{"rewrapped": n, "skipped": n, "failed": n}``. Exit 1 when an entity failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from chalicelib import audit
from chalicelib.handlers.walk_protocol import RewrapCounts
from chalicelib.walks import RewrapStart, RewrapTotals, RewrapWalk, count_entities
from local import store
from local.progress import progress


def add_arguments(parser: argparse.ArgumentParser, store_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    parser.add_argument("--db", help="only this database (default: every database)")
    parser.add_argument("--json", action="store_true", help="one JSON line of counts instead of text")
    store_flags(parser)


def _started(start: RewrapStart) -> None:
    if start.resumed:
        print(
            f"deltadb rewrap: resuming from the checkpoint ({start.totals.done} entities done) "
            f"towards key {start.target}",
            file=sys.stderr,
        )
    elif start.replaced:
        print("deltadb rewrap: a checkpoint of another scope or key version is replaced", file=sys.stderr)


@store.clear_errors
def run(args: argparse.Namespace) -> int:
    handlers = store.handlers(store.settings())
    walk = RewrapWalk(handlers, args.db)  # an unknown database stops here, before anything is written
    target, actor = args.db or "*", store.actor()
    audit.record("rewrap.start", actor=actor, target=target, result=audit.OK)
    total = count_entities(handlers, walk.dbs) if sys.stderr.isatty() else None
    try:
        with progress("rewrap", total) as advance:

            def started(start: RewrapStart) -> None:
                _started(start)
                advance(start.totals.done)

            def paged(page: RewrapCounts, _totals: RewrapTotals) -> None:
                for bad in page.failed:
                    print(f"deltadb rewrap: {bad['db']}/{bad['key']}: {bad['error']}", file=sys.stderr)
                advance(page.rewrapped + page.skipped + len(page.failed))

            totals = walk.run(started, paged)
    except KeyboardInterrupt:
        print("deltadb rewrap: interrupted; run it again to continue from the checkpoint", file=sys.stderr)
        audit.record("rewrap.finish", actor=actor, target=target, result=audit.FAILED, interrupted=True)
        return 130
    except Exception:
        audit.record("rewrap.finish", actor=actor, target=target, result=audit.FAILED)
        raise
    result = audit.FAILED if totals.failed else audit.OK
    audit.record("rewrap.finish", actor=actor, target=target, result=result, request_id=None, **totals.to_json())
    if args.json:
        print(json.dumps(totals.to_json()))
    else:
        print(
            f"rewrapped {totals.rewrapped} (format 1 -> 2), skipped {totals.skipped} (already current), "
            f"failed {totals.failed}; database key records moved: {totals.keys_moved}"
        )
    return 1 if totals.failed else 0
