"""Client-chosen text cut to fit a log line: its JSON form kept to a size, the cut marked."""

from __future__ import annotations

import json
import re

# The most one client-chosen value takes in a log line: bytes of its JSON form as written
# (ASCII only: a quote takes 2 bytes, an invalid byte's \udcff or a control character 6, a
# character beyond the BMP 12). Room for any real path and query, method or user agent.
FIELD_BYTES = 256
# Ends a value that was cut: how many bytes of it were left out (UTF-8, each invalid byte the
# client sent counting one).
MARK = "…[cut {} bytes]"
# The longest start of a JSON string's inside made of whole characters, each written plain or
# escaped (json.dumps writes \u escapes in lower case).
_WHOLE = re.compile(r"(?:\\u[0-9a-f]{4}|\\[^u]|[^\\])*")
_HIGH_SURROGATES = ("\ud800", "\udbff")


def json_bytes(text: str) -> int:
    """Bytes ``text`` takes inside a JSON string, as the log lines write it."""
    return len(json.dumps(text)) - 2


def wire_bytes(text: str) -> int:
    """Bytes of ``text`` as the client sent it: aiohttp decodes an invalid byte to one lone
    surrogate (surrogateescape)."""
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a lone surrogate no decoder of bytes made
        return len(text.encode("utf-8", "surrogatepass"))


def cut(text: str, limit: int = FIELD_BYTES) -> str:
    """``text`` whole if its JSON form fits in ``limit`` bytes; otherwise its longest start
    that fits with room for the mark of the whole value's size, and the mark of what was left
    out. ``limit`` must leave room for the mark."""
    escaped = json.dumps(text[:limit])[1:-1]  # each character takes a byte or more
    if len(text) <= limit and len(escaped) <= limit:
        return text
    size = wire_bytes(text)
    room = limit - json_bytes(MARK.format(size))
    whole = _WHOLE.match(escaped, 0, max(room, 0))
    kept: str = json.loads(f'"{whole.group() if whole else ""}"')
    if kept and _HIGH_SURROGATES[0] <= kept[-1] <= _HIGH_SURROGATES[1]:
        kept = kept[:-1]  # the first half of a pair (a character beyond the BMP)
    return kept + MARK.format(size - wire_bytes(kept))


def cut_or_none(text: str | None, limit: int = FIELD_BYTES) -> str | None:
    """``cut(text)``, or None for a value the request did not have."""
    return None if text is None else cut(text, limit)
