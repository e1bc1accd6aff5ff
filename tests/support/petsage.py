"""A FastAPI service built as the original design's ``main.py`` is: its own route, then the
smoke test router included; its series on a registry of its own."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from exporter.inside.fastapi_router import smoke_test_router

registry = CollectorRegistry()
app = FastAPI(title="PetSage")


@app.get("/pets")
async def pets() -> list[str]:
    """The service's own route."""
    return ["Rex"]


app.include_router(smoke_test_router(registry=registry))
