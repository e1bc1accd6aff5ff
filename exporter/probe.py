"""The probe subcommand: GET a URL, print its body, exit 0 on 200 and 1 otherwise."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from typing import TextIO

DEFAULT_URL = "http://127.0.0.1:9707/smoke-test"


def probe(url: str, timeout: float, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Request ``url``: print the body; 0 on 200, 1 on any other answer or none."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        print(f"smoke-test-exporter probe: cannot reach {url}: {reason}", file=err)
        return 1
    text = body.decode("utf-8", "replace")
    print(text, end="" if text.endswith("\n") else "\n", file=out)
    return 0 if status == 200 else 1
