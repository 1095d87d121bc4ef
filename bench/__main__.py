"""Run every benchmark: `python -m bench` (what `make bench` does)."""

from . import analytics, runtime

runtime.run()
analytics.run()
