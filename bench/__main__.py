"""Run every benchmark: `python -m bench` (what `make bench` does)."""

from . import runtime, tasklist

runtime.run()
tasklist.run()
