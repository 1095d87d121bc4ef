"""Run every benchmark: `python -m bench` (what `make bench` does).

The registration and HTTP figures need PostgreSQL (TIRKEU_BENCH_DATABASE) and a free port;
where PostgreSQL cannot be reached they are skipped with a note.
"""

import sys

from sqlalchemy.exc import OperationalError

from . import analytics, cli, evaluation, http, levers, registration, runtime, simulation, tasklist

try:
    registration.run()
except OperationalError as error:
    print(f"\nregistration benchmark skipped, no PostgreSQL: {error.orig}", file=sys.stderr)
http.run()
runtime.run()
levers.run()
tasklist.run()
analytics.run()
evaluation.run()
cli.run()
simulation.run()
