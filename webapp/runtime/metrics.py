"""Step latency, measured in the runtime and exposed in the Prometheus text format."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Seconds: a step is a few milliseconds; the upper buckets catch a slow registry call.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class HistogramSample:
    """One labelled series of a histogram: cumulative bucket counts, sum and count."""

    operation: str
    buckets: tuple[tuple[float, int], ...]
    total: float
    count: int


class LatencyHistogram:
    """A cumulative histogram of step durations per operation, safe across threads.

    Each process keeps its own; with several web workers each `/metrics` answer is that
    worker's share, as Prometheus expects of a multi-process server scraped per target.
    """

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.bounds = buckets
        self._lock = threading.Lock()
        self._series: dict[str, list] = {}

    def observe(self, operation: str, seconds: float) -> None:
        """Count one step of `operation` that took `seconds`."""
        with self._lock:
            series = self._series.setdefault(operation, [[0] * len(self.bounds), 0.0, 0])
            for index, bound in enumerate(self.bounds):
                if seconds <= bound:
                    series[0][index] += 1
            series[1] += seconds
            series[2] += 1

    @contextmanager
    def measure(self, operation: str) -> Iterator[None]:
        """Observe the wall time of the block, whether it succeeds or raises."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe(operation, time.perf_counter() - started)

    def samples(self) -> list[HistogramSample]:
        """Return a consistent copy of every series, by operation name."""
        with self._lock:
            return [
                HistogramSample(
                    operation, tuple(zip(self.bounds, counts, strict=True)), total, count
                )
                for operation, (counts, total, count) in sorted(self._series.items())
            ]
