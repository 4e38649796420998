"""What is integrated (docs/theory.md §1, §10): the training dynamics as components."""
