"""Runs of the smoke test: the runner, its results and their history."""
