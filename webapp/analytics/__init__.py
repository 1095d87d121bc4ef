"""The analysts' room: instance lists, traces, dashboards, event-log exports and metrics."""
