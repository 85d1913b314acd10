"""Confide insurer API: the HTTP gateway in front of the disclosures service."""
