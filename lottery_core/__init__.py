"""Validated sparse-training algorithms at scale, in JAX."""

__version__ = "0.1.0"
