"""The directory's pure domain: commands, the published events, folds and decisions, errors."""
