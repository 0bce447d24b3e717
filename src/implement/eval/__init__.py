"""Evaluation: the multi-trial runner, its run directory, metrics and report tables."""
