"""Engine adapter on SpiffWorkflow: deploy, step, timers, messages, services; no Flask."""
