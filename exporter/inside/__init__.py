"""The smoke test inside a service: an aiohttp sub-app and a FastAPI router that prove the
service's own logging (exporter.inside.aiohttp_app, exporter.inside.fastapi_router)."""
