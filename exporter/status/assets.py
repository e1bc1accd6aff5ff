"""The page's one inline style and one inline script, read from the package at first use, and
the Content-Security-Policy that allows those two and nothing else."""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Assets:
    """The style and script the page inlines, and the policy that admits exactly them."""

    css: str
    script: str

    @property
    def policy(self) -> str:
        """No origin but the page's own (status.json), no inline code but these two by hash."""
        return "; ".join(
            (
                "default-src 'none'",
                f"script-src {_digest(self.script)}",
                f"style-src {_digest(self.css)}",
                "img-src data:",
                "connect-src 'self'",
                "base-uri 'none'",
                "form-action 'none'",
                "frame-ancestors 'none'",
            )
        )


@functools.cache
def page_assets() -> Assets:
    """Read once, on the first page served."""
    folder = resources.files("exporter.status")
    return Assets(
        css=folder.joinpath("page.css").read_text(encoding="utf-8"),
        script=folder.joinpath("page.js").read_text(encoding="utf-8"),
    )


def _digest(text: str) -> str:
    """A CSP hash source: ``'sha256-<base64>'`` of the element's exact text."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
