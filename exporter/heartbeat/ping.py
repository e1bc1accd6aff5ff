"""The URL heartbeat, healthchecks.io style: GET ``success`` after a passing run, POST the
answer to ``failure`` after a failing one."""

from __future__ import annotations

import json

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from exporter.checks.secrets import unquoted
from exporter.heartbeat.options import PingOptions
from exporter.heartbeat.sender import HeartbeatError, HeartbeatReason
from exporter.run.results import Answer, RunResult
from exporter.session import SharedSession, connect_failure


class Ping:
    """One request a run, through the app's shared client."""

    name = "url"

    def __init__(self, options: PingOptions, http: SharedSession) -> None:
        self._options = options
        self._http = http

    async def send(self, result: RunResult) -> None:
        if result.ok:
            url, method, body = self._options.success, "GET", None
        else:
            url, method = self._options.failure, "POST"
            body = json.dumps(Answer(result, cached=False, age_seconds=0.0).body())
        if url is None:
            return
        try:
            # A ping is safe to send twice; a kept connection closed under it is asked again.
            async with self._http.kept.request(
                method,
                url,
                repeatable=True,
                data=body,
                headers={"Content-Type": "application/json"} if body else None,
            ) as response:
                await response.read()
                status = response.status
        except aiohttp.ClientConnectorError as error:
            raise HeartbeatError(HeartbeatReason.CONNECT, connect_failure(error)) from None
        except (aiohttp.ClientError, HttpProcessingError) as error:
            # aiohttp's parser would quote the bytes of an answer that is not HTTP (the
            # pure-Python one raises HttpProcessingError itself, not a ClientError)
            raise HeartbeatError(HeartbeatReason.CONNECT, f"{url}: {unquoted(error)}") from None
        if not 200 <= status < 300:
            raise HeartbeatError(HeartbeatReason.STATUS, f"{method} {url}: status {status}")
