"""Faithfulness evals: the eval dataset, its loader, and deterministic metrics."""
