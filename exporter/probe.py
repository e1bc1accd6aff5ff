"""The probe subcommand: GET a URL or a path on the configured listen address, print its body,
exit 0 on 200 and 1 otherwise."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TextIO

from exporter.config import ListenAddress, Settings, parse_listen_address, parse_seconds
from exporter.flags import ENV_PREFIX, Parser

DEFAULT_PATH = "/smoke-test"
LISTEN_FLAG = "--web.listen-address"
LISTEN_ENV = ENV_PREFIX + "WEB_LISTEN_ADDRESS"
_PROG = "smoke-test-exporter probe"


def build_probe_parser() -> argparse.ArgumentParser:
    """Flags of the probe subcommand."""
    parser = Parser(
        prog=_PROG,
        description="GET a URL, or a path on the exporter's listen address, print the body, "
        "exit 0 on 200 and 1 otherwise.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "url",
        nargs="?",
        default=DEFAULT_PATH,
        metavar="URL|PATH",
        help="an http:// or https:// URL, or a path on the listen address "
        f"(default {DEFAULT_PATH})",
    )
    parser.add_argument(
        LISTEN_FLAG,
        dest="listen_address",
        metavar="VALUE",
        help=f"the exporter's listen address, for a PATH [env {LISTEN_ENV}] (default "
        f"{Settings.listen_address})",
    )
    parser.add_argument(
        "--timeout",
        default="5s",
        metavar="DURATION",
        help="give up after this long: a duration (5s, 500ms) or a number of seconds (default 5s)",
    )
    return parser


def local_url(address: ListenAddress, path: str) -> str:
    """The URL of ``path`` on the exporter listening on ``address``: an address of every
    interface is asked on loopback."""
    host = address.host
    if host in (None, "", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{ListenAddress(host, address.port)}{path}"


def target_url(text: str, listen_flag: str | None, environ: Mapping[str, str]) -> str:
    """What the probe asks: ``text`` when it is a URL; else the path on the listen address
    that the flag, or else the environment, names. ValueError says what is wrong."""
    if text.startswith(("http://", "https://")):
        return text
    if not text.startswith("/"):
        raise ValueError(f"{text!r} is not an http:// or https:// URL, nor a path")
    source, value = LISTEN_FLAG, listen_flag
    if value is None:
        source, value = f"environment variable {LISTEN_ENV}", environ.get(LISTEN_ENV) or None
    try:
        address = Settings.listen_address if value is None else parse_listen_address(value)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
    return local_url(address, text)


def run_probe(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """The probe subcommand; 2 for a bad flag, URL or address."""
    try:
        namespace = build_probe_parser().parse_args(argv)
        timeout = parse_seconds(namespace.timeout, allow_zero=False)
        url = target_url(namespace.url, namespace.listen_address, environ)
    except ValueError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return int(done.code or 0)
    return probe(url, timeout)


def probe(url: str, timeout: float, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Request ``url``: print the body; 0 on 200, 1 on any other answer or none."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        print(f"{_PROG}: cannot reach {url}: {reason}", file=err)
        return 1
    text = body.decode("utf-8", "replace")
    print(text, end="" if text.endswith("\n") else "\n", file=out)
    return 0 if status == 200 else 1
