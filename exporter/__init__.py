"""smoke-test-exporter: proves, continuously, that a service is up and its logging really works."""

__version__ = "0.1.0"
