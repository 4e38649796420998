"""Generator networks (docs/theory.md §2–§4, §9): the interface, the built-ins, their losses and kernels."""
