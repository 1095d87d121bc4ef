"""Timing and printing helpers shared by the benchmarks."""

import statistics
import time
from collections.abc import Callable


def median_ms(work: Callable[[], object], runs: int, warmup: int = 5) -> float:
    """Return the median wall time of `work` in milliseconds."""
    for _ in range(warmup):
        work()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def percentile(samples: list[float], share: float) -> float:
    """Return the `share` percentile (0..1) of samples."""
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
