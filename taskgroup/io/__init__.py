"""Readers and writers of result files in formats other tools produce (the paper's TSV layout, ...)."""
