"""The transaction: planners, the one writer, backups, state, and the sequence that applies a plan."""
