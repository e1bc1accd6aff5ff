"""Reading canaries back out of what a store holds: a log line, or a document's fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from exporter.checks.canaries import Key

_DECODER = json.JSONDecoder()


def key_of_fields(fields: Mapping[str, Any], instance: str) -> Key | None:
    """The canary in a parsed JSON line (run_id, seq and instance), if it is one of ours."""
    run_id, seq = fields.get("run_id"), fields.get("seq")
    if fields.get("instance") != instance or not isinstance(run_id, str):
        return None
    if isinstance(seq, bool) or not isinstance(seq, int):
        return None
    return (run_id, seq)


def key_of_line(line: str, instance: str) -> Key | None:
    """The canary in a log line, if it is one of ours. The JSON object may follow a prefix that
    a shipper or syslog server added (a timestamp, a host, a tag)."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        value, _ = _DECODER.raw_decode(line, start)
    except ValueError:
        return None
    return key_of_fields(value, instance) if isinstance(value, dict) else None
