"""Laws of the signal `x̄` (docs/theory.md §1, §12): the interface (`base`), one file per family,
the catalogue of shipped images (`image_data`) and the registry `SIGNALS` (`registry`)."""
