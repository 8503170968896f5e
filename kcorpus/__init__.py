"""kcorpus: PyTorch-to-Triton training corpora, mined, verified and published."""

__version__ = "0.1.0"
