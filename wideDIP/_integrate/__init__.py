"""The integrators (docs/theory.md §1, §10): the discrete loop, the diffrax solve, one trajectory type."""
