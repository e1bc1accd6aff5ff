"""The smoke test inside a FastAPI service, as the original design had it:
``app.include_router(smoke_test_router())`` serves GET /health/smoke-test. FastAPI is the
optional ``[fastapi]`` extra, imported by this module alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, status
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field

from exporter.inside.core import InsideSmokeTest
from exporter.inside.settings import InsideSettings

SUMMARY = "Perform a System Smoke Test"
# The original design's words, as its OpenAPI document showed them.
DESCRIPTION = (
    "This endpoint is a simple health check that verifies the PetSage backend\n"
    "service is running and that the logging system is operational.\n\n"
    "When called, it logs a message to the system's output and returns a\n"
    "success response with a timestamp. It requires no authentication and\n"
    "is safe to be used by automated monitoring services."
)


class SmokeTestResponse(BaseModel):
    """The answer: the original design's three fields, then the run and its checks."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(..., examples=["ok"], description="The operational status of the service.")
    message: str = Field(
        ...,
        examples=["PetSage systems are purring perfectly!"],
        description="A friendly, brand-aligned confirmation message.",
    )
    timestamp: datetime = Field(..., description="The UTC timestamp when the check was performed.")
    run_id: str = Field(..., description="The run's id, carried by its canary log line.")
    checks: dict[str, dict[str, Any]] = Field(
        ..., description="Each check's status, duration and, when it failed, why."
    )


def smoke_test_router(
    settings: InsideSettings | None = None,
    *,
    registry: CollectorRegistry | None = None,
    prefix: str = "/health",
) -> APIRouter:
    """A router serving ``GET {prefix}/smoke-test``. Its series go on ``registry`` (by default
    the client library's global one); its background runs start and stop with the app's
    lifespan, which ``include_router`` joins to the app's own."""
    core = InsideSmokeTest(settings or InsideSettings(), REGISTRY if registry is None else registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with core.running():
            yield

    router = APIRouter(
        prefix=prefix,
        tags=["Health & Monitoring"],
        responses={404: {"description": "Not found"}},
        lifespan=lifespan,
    )

    @router.get(
        "/smoke-test",
        response_model=SmokeTestResponse,
        status_code=status.HTTP_200_OK,
        summary=SUMMARY,
        description=DESCRIPTION,
        responses={
            503: {"model": SmokeTestResponse, "description": "A check failed: `message` says why."},
            400: {"description": "`exclude` names no check."},
        },
    )
    async def get_smoke_test(
        request: Request,
        exclude: Annotated[
            list[str] | None, Query(description="Checks run but not judged.")
        ] = None,
    ) -> JSONResponse:
        reply = await core.respond(exclude or (), request.headers.get("accept", ""))
        return JSONResponse(
            reply.body,
            status_code=reply.status,
            media_type=reply.content_type,
            headers=dict(reply.headers),
        )

    return router
