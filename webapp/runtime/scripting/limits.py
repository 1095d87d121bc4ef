"""The budgets of an evaluation: its lines, time and memory, and the size of each value it makes."""

MAX_LINES = 200_000
MAX_SECONDS = 2.0
MAX_RANGE = 100_000
# One value: items of a list or tuple, characters of a str, bytes of a bytes.
MAX_LENGTH = 1_000_000
# About 30,000 decimal digits: far past any amount or count, and each operation stays in
# milliseconds (a 1,000,000-bit power already takes tens of them).
MAX_INT_BITS = 100_000
# What a value amounts to once written out, counting a shared object every time it appears:
# data a script writes back, a value an expression returns, what is formatted or printed.
MAX_DATA = 2_000_000
# Items of a value compared or hashed, each time it appears: far more than task data holds.
MAX_COMPARED = 100_000
# Growth of the process's resident memory during one evaluation.
MAX_MEMORY = 256 * 1024 * 1024
# Lines between two checks of the clock and the memory.
CHECK_EVERY = 16
# Seconds between two readings of the memory, which a line can grow by tens of MiB at most.
MEMORY_EVERY = 0.02
MAX_ROUND_DIGITS = 10_000
SCRIPT_FILENAME = "<diagram script>"
