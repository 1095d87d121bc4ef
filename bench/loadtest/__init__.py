"""Load and fault test: many full registrations through the HTTP API of a PostgreSQL cluster."""
