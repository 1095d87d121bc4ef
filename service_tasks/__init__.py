"""Connectors to the national registries, and the operator table that BPMN service tasks call."""
