"""Synthesis: backends turn problems into Triton candidates."""

from kcorpus.synth.stage import synth

__all__ = ["synth"]
