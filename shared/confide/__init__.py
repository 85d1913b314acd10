"""Confide's common library: event store client, HIPAA rules, content lint, crypto and audit proofs."""
