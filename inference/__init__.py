"""Runtime: what a deployment installs (no datasets, no accelerate)."""
