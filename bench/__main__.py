"""Run every benchmark: `python -m bench` (what `make bench` does)."""

from . import analytics, runtime, tasklist

runtime.run()
tasklist.run()
analytics.run()
