"""Synthesis: backends turn problems into Triton candidates (the stage: kcorpus.synth.stage)."""
