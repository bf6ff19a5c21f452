"""The journal's group commit: records from many threads, fsyncs shared.

Each thread appends records to one journal (a real file, real fsyncs), as the
executor's workers do (a ``start`` before each call and a ``done`` after it). With one
thread every record is its own fsync; with more, the records queued while one fsync
runs go out together in the next. Printed: records, fsyncs, records per fsync,
seconds, records a second, and the speed-up over one fsync a record (one thread).

Run: ``.venv/bin/python benchmarks/journal.py [--records 4000] [--threads 1 8 32]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import groupify
from groupify.cli.text import table
from groupify.runtime.journal import Journal
from groupify.testing import synthetic_gaad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args(argv)
    inventory = groupify.parse_gaad([synthetic_gaad(users=60, seed=1)])
    plan = groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))
    step = plan.steps[0].id
    rows = []
    base: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for threads in args.threads:
            journal = Journal.open(Path(tmp, f"j{threads}"), plan)
            each = args.records // threads

            def work(journal: Journal = journal, each: int = each) -> None:
                for _ in range(each):
                    journal.record("start", step)

            workers = [threading.Thread(target=work) for _ in range(threads)]
            started = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            seconds = time.perf_counter() - started
            records = each * threads
            rate = records / seconds
            base = base or rate
            rows.append(
                [
                    threads,
                    records,
                    journal.fsyncs,
                    f"{records / journal.fsyncs:.1f}",
                    f"{seconds:.2f}",
                    f"{rate:.0f}",
                    f"{rate / base:.1f}x",
                ]
            )
    headers = ["threads", "records", "fsyncs", "records/fsync", "seconds", "records/s", "vs 1"]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
