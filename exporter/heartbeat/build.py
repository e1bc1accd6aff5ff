"""The heartbeat's targets, from its options."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from exporter.heartbeat.options import HeartbeatOptions
from exporter.heartbeat.ping import Ping
from exporter.heartbeat.pushgateway import Pushgateway
from exporter.heartbeat.sender import Target
from exporter.session import SharedSession


def build_targets(
    options: HeartbeatOptions | None,
    registry: CollectorRegistry,
    http: SharedSession,
    instance: str,
) -> list[Target]:
    """A Pushgateway and/or a ping target; none without a ``heartbeat:``."""
    if options is None:
        return []
    targets: list[Target] = []
    if options.pushgateway is not None:
        targets.append(Pushgateway(options.pushgateway, registry, instance, options.timeout))
    if options.url is not None:
        targets.append(Ping(options.url, http))
    return targets
