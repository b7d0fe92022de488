"""Stage 5, assemble: the official tree from the ledger's records, its documents and truncation."""
