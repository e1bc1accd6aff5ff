"""Every metric the exporter exposes, created on an injected registry with known series at 0."""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from exporter import __version__
from exporter.run.run_series import RunSeries, create_run_series

# Few buckets: each timed route's histogram is created at start-up. Probes time out at 1 s.
HTTP_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 2.5)
# The routes called in production, by route name: the smoke test, Prometheus' scrape and the
# liveness and readiness probes. Only these are timed: a histogram is 9 series in every scrape,
# and one for a route called a few times a day told nothing. Every route is still counted.
TIMED_HANDLERS = ("smoke_test", "metrics", "healthy", "ready")


def _running_tasks() -> float:
    """Tasks of the loop this scrape runs on; 0 when read outside one."""
    try:
        return len(asyncio.all_tasks(asyncio.get_running_loop()))
    except RuntimeError:
        return 0


class RequestMetrics:
    """The per-request counter and the timed routes' histograms, their labelled children kept
    at hand: looking a child up through ``labels()`` costs more than counting the request."""

    def __init__(self, requests: Counter, duration: Histogram, timed: Iterable[str]) -> None:
        self._requests = requests
        self._counters: dict[tuple[str, str, int], Any] = {}
        # Made here, so each timed route's series exist at 0 from start-up.
        self._histograms: dict[str, Any] = {handler: duration.labels(handler) for handler in timed}

    def observe(self, handler: str, method: str, code: int, seconds: float) -> None:
        """Count one answered request, and time it when its route is timed."""
        key = (handler, method, code)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self._requests.labels(handler, method, str(code))
        counter.inc()
        histogram = self._histograms.get(handler)
        if histogram is not None:
            histogram.observe(seconds)


@dataclass(frozen=True)
class Metrics:
    """Handles on every metric; docs/metrics.md says what each one means."""

    run: RunSeries
    http_requests: Counter
    http_duration: Histogram
    http: RequestMetrics
    http_rejected: Counter
    reload_ok: Gauge
    reload_time: Gauge


@dataclass(frozen=True)
class ConnectionMetrics:
    """The counters of what the listening sockets refuse, before any request reaches the app."""

    heads_refused: Counter
    evicted: Counter


def create_connection_metrics(registry: CollectorRegistry) -> ConnectionMetrics:
    """Register the listening sockets' counters on ``registry``, at 0; made where the sites are
    (exporter.server), beside create_metrics' for the app."""
    p = "smoke_test_http_"
    return ConnectionMetrics(
        heads_refused=Counter(
            p + "request_heads_refused",
            "Request heads refused for passing 16 KiB (the request line and header fields): "
            "answered 431, or, after requests on the same connection, read no more.",
            registry=registry,
        ),
        evicted=Counter(
            p + "connections_evicted",
            "Connections closed to give their slot of --web.max-connections to a connection "
            "from an address holding fewer slots.",
            registry=registry,
        ),
    )


def create_metrics(
    registry: CollectorRegistry,
    *,
    triggers: Iterable[str],
    handlers: Iterable[str],
    interval_seconds: float,
) -> Metrics:
    """Register every metric on ``registry`` and create each known labelled series at 0.

    ``handlers`` are every route's name; those in TIMED_HANDLERS get their histogram. The
    families of the checks and the sinks are their own (run/check_series.py, sinks/series.py).
    """
    # `_created` series double every counter's lines and Prometheus 2 ignores them. The switch
    # is process-wide in prometheus_client, so it is thrown here, where metrics are made.
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    p = "smoke_test_"
    http_requests = Counter(
        p + "http_requests",
        "HTTP requests answered, by route name, method and status code.",
        ["handler", "method", "code"],
        registry=registry,
    )
    http_duration = Histogram(
        p + "http_request_duration_seconds",
        "Time to answer an HTTP request, by route name; only the routes called in production "
        "(smoke_test, metrics, healthy, ready).",
        ["handler"],
        buckets=HTTP_BUCKETS,
        registry=registry,
    )
    metrics = Metrics(
        run=create_run_series(registry, triggers=triggers, interval_seconds=interval_seconds),
        http_requests=http_requests,
        http_duration=http_duration,
        http=RequestMetrics(
            http_requests, http_duration, [h for h in handlers if h in TIMED_HANDLERS]
        ),
        http_rejected=Counter(
            p + "http_requests_rejected",
            "HTTP requests refused with 503 at once: --web.max-requests were in flight. Each "
            "is also counted in smoke_test_http_requests_total, with code 503.",
            registry=registry,
        ),
        reload_ok=Gauge(
            p + "exporter_config_last_reload_successful",
            "1 if the last reload of --config.file succeeded (or none was asked for), else 0.",
            registry=registry,
        ),
        reload_time=Gauge(
            p + "exporter_config_last_reload_success_timestamp_seconds",
            "Unix time the configuration was last loaded successfully.",
            registry=registry,
        ),
    )
    metrics.reload_ok.set(1)
    metrics.reload_time.set_to_current_time()
    Gauge(
        p + "exporter_tasks",
        "asyncio tasks alive in the exporter's event loop: a connection being served, the "
        "schedule, a run in flight.",
        registry=registry,
    ).set_function(_running_tasks)
    Gauge(
        p + "exporter_build_info",
        "Always 1; labelled with the exporter's version and Python's.",
        ["version", "python_version"],
        registry=registry,
    ).labels(__version__, platform.python_version()).set(1)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return metrics
