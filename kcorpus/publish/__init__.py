"""Publishing: catalog to versioned release directories laid out as Hub dataset repos."""

from kcorpus.publish.stage import publish

__all__ = ["publish"]
