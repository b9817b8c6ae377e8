"""Printing benchmark results as one plain-text table, with the machine they ran on."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def machine() -> str:
    """One line naming the machine: CPU count, memory, Python."""
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {mem_gib:.0f} GiB, {platform.machine()}, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run ``fn`` once; return its result and the wall-clock seconds it took."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a fixed-width table with a title and the machine line."""
    cells = [[str(h) for h in header]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    rule = "-+-".join("-" * w for w in widths)
    print(f"\n{title}\n({machine()})")
    print(" | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)))
    print(rule)
    for row in cells[1:]:
        print(" | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
