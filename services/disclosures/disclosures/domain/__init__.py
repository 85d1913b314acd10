"""Pure model of disclosures (stdlib only): commands, events, folds and the accounting rules."""
