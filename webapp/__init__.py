"""Tirkeu: registration at the place of residence, run as BPMN on SpiffWorkflow."""
