"""Captions and figures drawn from results (docs/layout.md)."""
