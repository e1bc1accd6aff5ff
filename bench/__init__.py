"""The benchmark harness: the exporter measured beside its peer and the floor, in one run."""
