"""Experiments: simulate, compare, sweep and the batching of cells (docs/layout.md)."""
