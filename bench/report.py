"""Timing and printing helpers shared by the benchmarks."""

import statistics
import time
from collections.abc import Callable


def medians_ms(*works: Callable[[], object], runs: int, warmup: int = 5) -> tuple[float, ...]:
    """Return the median wall time of each work in milliseconds.

    The works take turns, one run each per round, so that the machine's moods fall on all of
    them alike and their ratio holds on a noisy machine.
    """
    for _ in range(warmup):
        for work in works:
            work()
    samples: list[list[float]] = [[] for _ in works]
    for _ in range(runs):
        for work, times in zip(works, samples, strict=True):
            start = time.perf_counter()
            work()
            times.append((time.perf_counter() - start) * 1000)
    return tuple(statistics.median(times) for times in samples)


def percentile(samples: list[float], share: float) -> float:
    """Return the `share` percentile (0..1) of samples (0 when there are none)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def table(title: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    """Print an aligned table."""
    cells = [header] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))
