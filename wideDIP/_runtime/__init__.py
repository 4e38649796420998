"""Infrastructure: devices and processes, locks, the compilation cache, interrupts, paths (docs/layout.md)."""
