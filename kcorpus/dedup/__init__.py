"""Dedup and decontamination: exact.py, near.py (with shingles.py), decontam.py; stage.py runs
them in order."""

from kcorpus.dedup.exact import canonical_code
from kcorpus.dedup.stage import dedup

__all__ = ["canonical_code", "dedup"]
