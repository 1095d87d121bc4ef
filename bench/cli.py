"""The command's start-up and the demo history's pace, in CPU seconds.

`tirkeu --help` must cost under 0.3 s of CPU, since every command and every test that shells
out pays it. The demo history runs `tirkeu init --demo --history N` on a fresh folder; its CPU
per application tells how many applications fit in the minute a first start may take.
"""

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .report import table

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-c", "from webapp.cli import main; main()"]
HELP_TARGET = 0.3
HISTORY = 100


def child_cpu(args: list[str], env: dict[str, str] | None = None) -> float:
    """Run the command with the arguments; return the CPU seconds its process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([*COMMAND, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run() -> None:
    """Print the CPU of `tirkeu --help` and of a demo history of HISTORY applications."""
    helps = [child_cpu(["--help"]) for _ in range(5)]
    plain, demo = (fresh_init(n) for n in (0, HISTORY))
    per_application = (demo - plain) / HISTORY
    table(
        "The command's CPU (seconds)",
        ("what", "CPU s", "target"),
        [
            ("tirkeu --help (median of 5)", f"{statistics.median(helps):.3f}", f"< {HELP_TARGET}"),
            ("tirkeu init --demo --history 0", f"{plain:.2f}", ""),
            (f"tirkeu init --demo --history {HISTORY}", f"{demo:.2f}", ""),
            ("demo history, per application", f"{per_application:.3f}", ""),
            ("applications that fit in 60 s", f"{int((60 - plain) / per_application)}", ""),
        ],
    )


def fresh_init(applications: int) -> float:
    """Return the CPU of `tirkeu init --demo` with a history of so many applications, in a
    fresh instance folder."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "TIRKEU_INSTANCE_PATH": folder}
        env.pop("TIRKEU_DATABASE_URL", None)
        return child_cpu(["init", "--demo", "--history", str(applications)], env)
