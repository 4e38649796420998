"""Results: the simulation record, saving and one `load` (docs/layout.md)."""
