"""Mining: sources to problems (canonical nn.Module programs) and human-written Triton kernels."""

from kcorpus.mine.stage import mine

__all__ = ["mine"]
