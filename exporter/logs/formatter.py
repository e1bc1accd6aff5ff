"""The JSON line formatter: python-json-logger with the fields named as our lines name them."""

from __future__ import annotations

from typing import Any

from pythonjsonlogger.json import JsonFormatter


class JsonLineFormatter(JsonFormatter):
    """python-json-logger's formatter with the fields named as our lines name them."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,  # RFC 3339, UTC, from the record's creation time
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Put the timestamp first, where people and parsers look for it."""
        return {"timestamp": log_data.pop("timestamp"), **log_data}
