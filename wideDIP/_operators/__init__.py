"""Forward operators `A` (docs/theory.md §8, §12): the interface and its shared numerics (`base`), one
file per operator, and their registry `OPERATORS` (`registry`)."""
