"""What is measured from a run (docs/theory.md §5, §7): Theorem 2.1, recovery, the statistics."""
