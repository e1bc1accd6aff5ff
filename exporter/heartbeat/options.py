"""``heartbeat:`` in the config file: where to send it, and how long a send may take."""

from __future__ import annotations

from dataclasses import dataclass

from yarl import URL

from exporter.options import Invalid, Seconds

TIMEOUT = Seconds(5.0)


def _http_url(url: str, key: str) -> None:
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Invalid(key, f"{url!r} is not an http:// or https:// URL with a host")


@dataclass(frozen=True)
class PushgatewayOptions:
    """``pushgateway``: the gateway's URL, and the job the pushed group is under."""

    url: str
    job: str = "smoke-test-heartbeat"

    def __post_init__(self) -> None:
        _http_url(self.url, "url")
        if not self.job or "/" in self.job:
            raise Invalid("job", f"{self.job!r} is not a job name (no slash, not empty)")


@dataclass(frozen=True)
class PingOptions:
    """``url``: what to GET after a passing run, and POST (the answer as the body) after a
    failing one, as healthchecks.io's ping URLs take them."""

    success: str | None = None
    failure: str | None = None

    def __post_init__(self) -> None:
        if self.success is None and self.failure is None:
            raise Invalid("", "give success, failure or both")
        for key in ("success", "failure"):
            url = getattr(self, key)
            if url is not None:
                _http_url(url, key)


@dataclass(frozen=True)
class HeartbeatOptions:
    """``heartbeat``: a Pushgateway, ping URLs, or both; each send bounded by ``timeout``."""

    pushgateway: PushgatewayOptions | None = None
    url: PingOptions | None = None
    timeout: Seconds = TIMEOUT

    def __post_init__(self) -> None:
        if self.pushgateway is None and self.url is None:
            raise Invalid("", "give pushgateway, url or both")
