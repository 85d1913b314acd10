"""Confide disclosures service: disclosure requests, authorizations, access decisions, accounting."""
