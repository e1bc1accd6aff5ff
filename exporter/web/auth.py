"""Access control from the web config: basic auth middleware, and the extra response headers."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Collection

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from exporter.addresses import address_key
from exporter.web.login_gate import Full, LoginGate, Turn, half_the_cpus
from exporter.web.middleware import error_response
from exporter.webconfig.load import WebConfig

REALM = "smoke-test-exporter"
RETRY_AFTER_SECONDS = 1


def extra_headers(config: WebConfig | None) -> list[Middleware]:
    """A middleware adding http_server_config.headers to every response, errors included."""
    if config is None or not config.headers:
        return []
    headers = dict(config.headers)

    @web.middleware
    async def add_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # what json_errors lets through (redirects)
            exc.headers.update(headers)
            raise
        if not response.prepared:  # a streamed response has sent its headers already
            response.headers.update(headers)
        return response

    return [add_headers]


def basic_auth(config: WebConfig | None, open_routes: Collection[str]) -> list[Middleware]:
    """A middleware requiring basic_auth_users' credentials on every route but the
    ``open_routes`` (by route name)."""
    if config is None or config.credentials is None:
        return []
    credentials = config.credentials
    open_names = frozenset(open_routes)
    # bcrypt is slow on purpose: a few checks at once, off the event loop, taking turns between
    # client addresses, so a flood of wrong passwords costs half the CPUs at most and delays
    # another address's check by one check at most. Remembered credentials
    # never wait. A credential asked for again while it is being checked waits for that check:
    # a burst of first scrapes costs one check, not a place in the queue each.
    gate = LoginGate(half_the_cpus())
    checking: dict[tuple[str, bytes], asyncio.Task[bool]] = {}

    async def check(turn: Turn, user: str, password: bytes) -> bool:
        async with turn:
            return await asyncio.to_thread(credentials.verify, user, password)

    async def verified(address: str, user: str, password: bytes) -> bool:
        """Whether the password is right; raises Full when ``address`` may not wait."""
        if credentials.cached(user, password):
            return True
        key = credentials.key(user, password)
        task = checking.get(key)
        if task is None:
            task = asyncio.create_task(check(gate.enter(address), user, password))
            checking[key] = task
            task.add_done_callback(lambda _: checking.pop(key, None))
        # A client gone (its handler cancelled) leaves the check to those who share it.
        return await asyncio.shield(task)

    @web.middleware
    async def require_basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.route.name in open_names:
            return await handler(request)
        header = request.headers.get(hdrs.AUTHORIZATION)
        if header is None:
            return _unauthorized("this endpoint requires HTTP basic authentication")
        given = _user_and_password(header)
        if given is None:
            return _unauthorized("the Authorization header is not valid basic authentication")
        address = address_key(request.remote)
        try:
            ok = await verified(address, *given)
        except Full:
            return _too_many(address, gate.max_waiting)
        if not ok:
            return _unauthorized("wrong user name or password")
        return await handler(request)

    return [require_basic_auth]


def _user_and_password(header: str) -> tuple[str, bytes] | None:
    """The user name and the password's bytes (bcrypt takes bytes) of a basic credential."""
    scheme, _, encoded = header.partition(" ")
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        if scheme.lower() == "basic" and colon:
            return user.decode("utf-8"), password
    except ValueError:  # not base64, or a user name that is not UTF-8
        pass
    return None


def _unauthorized(message: str) -> web.Response:
    """401 with the challenge; the body never says anything about the checks."""
    challenge = {str(hdrs.WWW_AUTHENTICATE): f'Basic realm="{REALM}"'}
    return error_response(401, "Unauthorized", message, challenge)


def _too_many(address: str, max_waiting: int) -> web.Response:
    """429 at once, without a check: this address has as many checks waiting as it may."""
    return error_response(
        429,
        "Too Many Requests",
        f"{max_waiting} password checks from {address} are waiting already; "
        f"retry in {RETRY_AFTER_SECONDS} s",
        {hdrs.RETRY_AFTER: str(RETRY_AFTER_SECONDS), hdrs.CACHE_CONTROL: "no-store"},
    )
