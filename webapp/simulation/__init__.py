"""What-if simulation: a model learned from the event log drives the real diagram through SimPy."""
