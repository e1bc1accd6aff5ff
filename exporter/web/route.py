"""One endpoint as the app, auth, OpenAPI and the landing page see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.typedefs import Handler


@dataclass(frozen=True)
class Route:
    """One endpoint: method and path, the route name (the ``handler`` metric label), its
    handler, whether it needs no credentials, its OpenAPI operation, and what the landing
    page says of it (no line when None)."""

    method: str
    path: str
    name: str
    handler: Handler
    operation: Callable[[], dict[str, Any]]  # its OpenAPI operation object
    open: bool = False
    link: str | None = None
