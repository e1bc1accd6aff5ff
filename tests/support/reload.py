"""Asking a running exporter to reload its config file."""

from __future__ import annotations

from typing import Any

from tests.conftest import Exporter


async def reload(exporter: Exporter) -> tuple[int, dict[str, Any]]:
    async with exporter.client.post("/-/reload") as response:
        assert response.headers["Cache-Control"] == "no-store"
        return response.status, await response.json()
