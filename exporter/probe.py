"""The probe subcommand: GET a URL, print its body, exit 0 on 200 and 1 otherwise."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TextIO

from exporter.config import parse_seconds
from exporter.flags import Parser

DEFAULT_URL = "http://127.0.0.1:9707/smoke-test"
_PROG = "smoke-test-exporter probe"


def build_probe_parser() -> argparse.ArgumentParser:
    """Flags of the probe subcommand."""
    parser = Parser(
        prog=_PROG,
        description="GET a URL, print the body, exit 0 on 200 and 1 otherwise.",
        allow_abbrev=False,
    )
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument(
        "--timeout", default="5", metavar="SECONDS", help="give up after this long (default 5)"
    )
    return parser


def run_probe(argv: Sequence[str]) -> int:
    """The probe subcommand; 2 for a bad flag or URL."""
    try:
        namespace = build_probe_parser().parse_args(argv)
        timeout = parse_seconds(namespace.timeout, allow_zero=False)
    except ValueError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return int(done.code or 0)
    url: str = namespace.url
    if not url.startswith(("http://", "https://")):
        print(f"{_PROG}: error: {url!r} is not an http:// or https:// URL", file=sys.stderr)
        return 2
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
