"""Helpers shared by test modules, one topic a module; no test module imports another."""
