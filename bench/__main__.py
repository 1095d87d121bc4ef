"""Run every benchmark: `python -m bench` (what `make bench` does)."""

from . import analytics, cli, evaluation, runtime, tasklist

runtime.run()
tasklist.run()
analytics.run()
evaluation.run()
cli.run()
