"""The exporter's own URL paths, in one place: the route table serves them, and the flag
parser keeps --web.telemetry-path off them. Imports nothing of the exporter's own."""

from __future__ import annotations

INDEX = "/"
SMOKE_TEST = "/smoke-test"
HEALTH_SMOKE_TEST = "/health/smoke-test"  # the seed's path
HISTORY = "/smoke-test/history"
STATUS = "/status.json"  # the status page's figures
TELEMETRY = "/metrics"  # the default of --web.telemetry-path
HEALTHY = "/-/healthy"
READY = "/-/ready"
RELOAD = "/-/reload"
OPENAPI = "/openapi.json"

# Every path but the telemetry one: --web.telemetry-path may not take one of these.
OWN_PATHS = frozenset(
    {INDEX, SMOKE_TEST, HEALTH_SMOKE_TEST, HISTORY, STATUS, HEALTHY, READY, RELOAD, OPENAPI}
)
