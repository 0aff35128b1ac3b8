"""Helpers shared by the benchmark scripts: time stamps, progress lines, checkpoint identity and
markdown tables.

A measurement written to a benchmark's JSON carries the :func:`file_sha256` of the checkpoint it
was made with, so that a report can tell the measurements of one checkpoint from those of
another even where the file kept its name (a periodic export replaces the weights under the same
name).
"""

from __future__ import annotations

import hashlib
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def now() -> str:
    """The time of a measurement, to the minute: ``2026-11-22 08:57 UTC``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def log(msg: str) -> None:
    """A progress line on stderr (stdout carries the table, or a child process's JSON)."""
    print(msg, file=sys.stderr, flush=True)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a markdown table: header, rule, one line per row of cells."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
