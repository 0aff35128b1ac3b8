"""Run every task's benchmark named in the task table (``make bench``), one after the other.

    .venv/bin/python benchmarks/run_all.py [--only interp,pose3d]

Each script prints its table and writes ``benchmarks/results/<task>.md`` + ``.json``; a failing
script stops the run with its exit status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vivid.core.tasks import TASKS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help="comma list of task names")
    args = ap.parse_args()
    rows = [t for t in TASKS if t.benchmark]
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {t.name for t in rows}
        if unknown:
            raise SystemExit(f"--only: no benchmark for {', '.join(sorted(unknown))}; tasks: {', '.join(t.name for t in rows)}")
        rows = [t for t in rows if t.name in wanted]
    for task in rows:
        print(f"## {task.name}: {task.benchmark}", flush=True)
        done = subprocess.run([sys.executable, str(REPO / task.benchmark)], cwd=REPO)
        if done.returncode != 0:
            raise SystemExit(done.returncode)


if __name__ == "__main__":
    main()
