"""Mining: sources to problems (canonical nn.Module programs) and human-written Triton kernels.

The stage is `kcorpus.mine.stage.mine`; the AST modules (files, extract, canonical) need only
the standard library.
"""
