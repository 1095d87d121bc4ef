"""Benchmarks (`make bench`): our persisted figures beside in-memory SpiffWorkflow, in one run."""
