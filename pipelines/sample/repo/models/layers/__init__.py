"""Normalization, gating and similarity layers."""
