"""HTTP handlers: the smoke test, its history, the probes, metrics and reload."""

from __future__ import annotations

from aiohttp import hdrs, web

from exporter.run.results import RunResult, unknown_excluded
from exporter.verdict import Status
from exporter.web import health_json
from exporter.web.keys import RELOADER, RUNNER, SCRAPE, SETTINGS
from exporter.web.middleware import error_response

NO_STORE = {"Cache-Control": "no-store"}


async def smoke_test(request: web.Request) -> web.Response:
    """Run the smoke test (or join the run in flight): 200 when it passes, 503 when not.

    JSON by default; the health+json format when the Accept header prefers it. Checks named
    by ``?exclude=`` run and are shown, but do not decide the status.
    """
    runner = request.app[RUNNER]
    excluded = frozenset(request.query.getall("exclude", []))
    problem = unknown_excluded(excluded, runner.checks)
    if problem is not None:
        return error_response(400, "Bad Request", problem, headers=NO_STORE)
    answer = (await runner.answer()).excluding(excluded)
    status = 200 if answer.result.ok else 503
    if health_json.wants_health_json(request.headers.get(hdrs.ACCEPT, "")):
        return web.json_response(
            health_json.render(answer),
            status=status,
            headers=NO_STORE,
            content_type=health_json.MEDIA_TYPE,
        )
    return web.json_response(answer.body(), status=status, headers=NO_STORE)


async def history(request: web.Request) -> web.Response:
    """The last runs and the last failures, newest first."""
    return web.json_response(request.app[RUNNER].history.body(), headers=NO_STORE)


async def healthy(request: web.Request) -> web.Response:
    """Liveness: the process answers HTTP. Runs no check."""
    return web.Response(text="Healthy\n", headers=NO_STORE)


async def ready(request: web.Request) -> web.Response:
    """Readiness: 200 once the start-up run has finished, whatever its result. With
    ``?verbose``, the last run's checks first, one a line, as Kubernetes' /readyz does."""
    runner = request.app[RUNNER]
    if runner.ready.is_set():
        lines = _check_lines(runner.last) if "verbose" in request.query else []
        return web.Response(text="".join(lines) + "Ready\n", headers=NO_STORE)
    return web.Response(
        status=503, text="Not ready: the start-up smoke test has not finished\n", headers=NO_STORE
    )


def _check_lines(result: RunResult | None) -> list[str]:
    """``[+]name ok``, ``[+]name warn: reason`` or ``[-]name failed: reason`` per check."""
    if result is None:
        return []
    lines = []
    for name, outcome in result.checks.items():
        r = outcome.result
        reason = "" if r.reason is None else str(r.reason.value)
        if r.status is Status.OK:
            lines.append(f"[+]{name} ok\n")
        elif r.status is Status.WARN:
            lines.append(f"[+]{name} warn: {reason}\n")
        else:
            lines.append(f"[-]{name} failed: {reason}\n")
    return lines


async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus metrics, from the shared rendering."""
    return await request.app[SCRAPE].handle(request)


NO_CONFIG_FILE = (
    "there is no --config.file to reload: the exporter runs the plan of its flags, which a "
    "reload cannot change"
)


async def reload(request: web.Request) -> web.Response:
    """Reload --config.file: 200 with what runs now, or 400 with why the file was refused or
    that there is no file to read."""
    if request.app[SETTINGS].config_file is None:
        return error_response(400, "Bad Request", NO_CONFIG_FILE, dict(NO_STORE))
    reloader = request.app[RELOADER]
    problem = await reloader.reload()
    if problem is not None:
        return error_response(400, "Bad Request", problem, dict(NO_STORE))
    plan = reloader.live.plan
    body = {
        "status": "ok",
        "sinks": [spec.name for spec in plan.sinks],
        "checks": [spec.name for spec in plan.checks],
    }
    return web.json_response(body, headers=NO_STORE)
