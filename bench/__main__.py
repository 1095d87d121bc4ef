"""Run the benchmarks: `python -m bench` runs every one (what `make bench` does), and
`python -m bench registration http` only those named.

The registration and HTTP figures need PostgreSQL (TIRKEU_BENCH_DATABASE) and a free port;
where PostgreSQL cannot be reached the registration figures are skipped with a note.
"""

import argparse
import sys

from sqlalchemy.exc import OperationalError

from . import (
    analytics,
    cli,
    evaluation,
    http,
    levers,
    registration,
    registries,
    runtime,
    simulation,
    tasklist,
)

# In the order `make bench` prints them.
BENCHMARKS = {
    module.__name__.rsplit(".", 1)[-1]: module
    for module in (
        registration,
        registries,
        http,
        runtime,
        levers,
        tasklist,
        analytics,
        evaluation,
        cli,
        simulation,
    )
}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks named on the command line, or every one."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run the benchmarks and print their figures."
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"a benchmark to run (default: every one): {', '.join(BENCHMARKS)}",
    )
    names = parser.parse_args(argv).names
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"no benchmark named {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    for name in names or BENCHMARKS:
        try:
            BENCHMARKS[name].run()
        except OperationalError as error:
            if name != "registration":
                raise
            print(f"\nregistration benchmark skipped, no PostgreSQL: {error.orig}", file=sys.stderr)


main()
