"""The smoke test's checks: CHECK_TYPES maps each ``type:`` of the config file to one module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.checks import disk, dns, grpc, http, logging, tcp, websocket
from exporter.checks.base import CheckType
from exporter.checks.stores import elasticsearch, journal, loki
from exporter.checks.stores import file as file_store

CHECK_TYPES: Mapping[str, CheckType[Any]] = {
    "logging": logging.TYPE,
    "disk": disk.TYPE,
    "tcp": tcp.TYPE,
    "http": http.TYPE,
    "websocket": websocket.TYPE,
    "grpc": grpc.TYPE,
    "dns": dns.TYPE,
    "file": file_store.TYPE,
    "journal": journal.TYPE,
    "loki": loki.TYPE,
    "elasticsearch": elasticsearch.TYPE,
}
# The check types that look for the canary in a store: they need a logging check to write it.
STORE_TYPES = frozenset({"file", "journal", "loki", "elasticsearch"})
# The check types that take no retries: one canary a run is what the store checks count.
NO_RETRIES = frozenset({"logging", *STORE_TYPES})

__all__ = ["CHECK_TYPES", "NO_RETRIES", "STORE_TYPES"]
