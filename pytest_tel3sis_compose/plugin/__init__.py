"""The pytest layer: options, fixtures, hooks and reports, wired onto the core."""
