"""The trace hook that bounds the lines, time and memory of a whole evaluation, and running
compiled code under it.
"""

import os
import resource
import sys
import time
from types import CodeType

from ..errors import ScriptError
from .limits import CHECK_EVERY, MAX_LINES, MAX_MEMORY, MAX_SECONDS, MEMORY_EVERY, SCRIPT_FILENAME

_STATM: dict[int, int] = {}  # process id -> its open /proc/self/statm


def _resident_memory() -> int:
    """Return the process's resident memory in bytes; its peak where there is no /proc."""
    # Opened once per process (a forked worker must not read its parent's) and read with
    # pread: opening it on every check would cost eight times as much.
    pid = os.getpid()
    if pid not in _STATM:
        try:
            _STATM[pid] = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak if sys.platform == "darwin" else peak * 1024
    return int(os.pread(_STATM[pid], 64, 0).split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Budget:
    """A trace hook that stops an evaluation past MAX_LINES lines, MAX_SECONDS or MAX_MEMORY.

    With a file name it counts the lines of that code only (a script's); without, every line
    run under it (a template's, whose filters are Python code that may loop).
    """

    def __init__(self, filename: str | None) -> None:
        self.filename = filename
        self.lines = 0
        self.deadline = time.thread_time() + MAX_SECONDS
        self.memory_limit: int | None = None
        self.next_memory_check = 0.0

    def __call__(self, frame, event, _arg):
        if self.filename is not None and frame.f_code.co_filename != self.filename:
            return None
        if event == "line":
            self.lines += 1
            if self.lines > MAX_LINES:
                raise ScriptError(f"script stopped: it ran more than {MAX_LINES} lines")
            if self.lines % CHECK_EVERY == 0:
                self.check()
        return self

    def check(self) -> None:
        """Stop the evaluation if it is past its time or memory.

        Its time is the thread's CPU time: a busy machine slows an evaluation's clock but does
        not use up its budget.
        """
        now = time.thread_time()
        if now > self.deadline:
            raise ScriptError(f"script stopped: it ran more than {MAX_SECONDS} s")
        # Reading the memory releases the interpreter lock for a moment, and each release
        # restarts the wait of a thread asking for it (a request being served): read it at
        # most every MEMORY_EVERY seconds, or other threads starve for tens of milliseconds.
        if now < self.next_memory_check:
            return
        self.next_memory_check = now + MEMORY_EVERY
        memory = _resident_memory()
        # Measured at the first check, not at the start: most expressions end before it.
        if self.memory_limit is None:
            self.memory_limit = memory + MAX_MEMORY
        elif memory > self.memory_limit:
            raise ScriptError(f"script stopped: it took more than {MAX_MEMORY // 2**20} MiB")


def _run_bounded(code: CodeType, namespace: dict) -> object:
    previous = sys.gettrace()
    sys.settrace(_Budget(SCRIPT_FILENAME))
    try:
        # Compiled by RestrictedPython from a source checked on its syntax tree, and guarded.
        return eval(code, namespace)  # noqa: S307  # nosec B307
    finally:
        sys.settrace(previous)
