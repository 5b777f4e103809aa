"""Targets: where tasks run (local, SLURM, ...)."""
