"""Engine adapter on SpiffWorkflow: deploy, step, timers, messages, services. Never imports Flask."""
