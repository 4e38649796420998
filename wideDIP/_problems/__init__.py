"""The inverse problem (docs/theory.md §1, §6, §8): operators, signal families, the per-seed draw."""
