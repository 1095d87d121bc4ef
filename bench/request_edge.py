"""What an API call adds to the runtime's work: the per-request overhead, per call.

The registration benchmark runs the same runtime functions in process and through the API;
an API call adds authentication (the token lookup and its use note), the rate limiter, the
session, JSON in and out and the request hooks in the app, and in PostgreSQL any statement or
pool checkout (each with its pre-ping) beyond the runtime's own. The app's share is timed
within each API run; PostgreSQL's is shown by the statements and checkouts the API variant
runs beyond the in-process one, counted, since its CPU is only read in 10 ms ticks.
"""

import statistics
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event

from .report import table


class Statements:
    """The statements and pool checkouts of one engine, counted per variant and run."""

    def __init__(self, engine: Engine) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.runs: Counter[str] = Counter()
        self.variant: str | None = None
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "checkout", self._checkout)

    def _statement(self, *_args: object) -> None:
        if self.variant is not None:
            self.counts[self.variant, "statements"] += 1

    def _checkout(self, *_args: object) -> None:
        if self.variant is not None:
            self.counts[self.variant, "checkouts"] += 1

    @contextmanager
    def counting(self, variant: str) -> Iterator[None]:
        """Count what one run of a variant does."""
        self.variant = variant
        try:
            yield
        finally:
            self.variant = None
            self.runs[variant] += 1

    def clear(self) -> None:
        """Forget the warm-up's counts."""
        self.counts.clear()
        self.runs.clear()

    def per_call(self, calls: int) -> dict[str, float]:
        """Return the statements and checkouts of the API beyond the in-process runs, per call."""
        return {
            kind: (
                self.counts["api", kind] / self.runs["api"]
                - self.counts["process", kind] / self.runs["process"]
            )
            / calls
            for kind in ("statements", "checkouts")
        }


def per_request(
    medians: dict[str, float],
    api_apps: list[tuple[float, float]],
    database: dict[str, float],
    calls: int,
) -> dict[str, float]:
    """Print the per-request overhead and return its figures.

    `api_apps` holds, for each API run of `calls` calls, the app's CPU ms and, of it, the
    runtime functions'; `medians` the CPU ms per registration of each variant.
    """
    edge = statistics.median(app - inside for app, inside in api_apps) / calls
    client = (medians["api"] - medians["process"]) / calls
    table(
        f"Per-request overhead of an API call ({calls} calls a registration): authentication, "
        "rate limiter, session, JSON, statements and pool checkouts (target: <= 1 ms CPU)",
        ("measure, per API call", "value", "target"),
        [
            ("CPU ms in the app outside the runtime's functions", f"{edge:.2f}", "<= 1"),
            ("statements beyond the runtime's own", f"{database['statements']:.2f}", ""),
            (
                "pool checkouts (with pre-ping) beyond the runtime's",
                f"{database['checkouts']:.2f}",
                "",
            ),
            ("CPU ms, (API - in process) / calls, test client too", f"{client:.2f}", ""),
        ],
    )
    return {"edge": edge, "request": client, **database}
