"""The logging pipeline: the JSON formatter, one thread per sink, and the fan-out between."""
