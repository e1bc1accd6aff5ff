"""The committed screenshots of the status page (docs/screenshots/, shown in the README) are
PNGs of the size the browser test takes them at; `make screenshots` refreshes them."""

from __future__ import annotations

import struct

import pytest

from tests.support.browser import SCREENSHOT, SCREENSHOTS

PNG = b"\x89PNG\r\n\x1a\n"
# The first chunk of every PNG: 13 bytes of data, named IHDR, width and height first.
IHDR = struct.pack(">I", 13) + b"IHDR"


@pytest.mark.parametrize("name", SCREENSHOT.names)
def test_committed_screenshot_is_a_png_of_the_taken_size(name: str) -> None:
    data = (SCREENSHOTS / name).read_bytes()
    assert data[:8] == PNG
    assert data[8:16] == IHDR
    assert struct.unpack(">II", data[16:24]) == (SCREENSHOT.width, SCREENSHOT.height)
