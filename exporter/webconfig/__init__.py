"""--web.config.file: the exporter-toolkit web configuration, its TLS and its credentials."""
