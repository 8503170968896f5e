"""Prefect flows: thin wrappers that order kcorpus stages and report on them."""
