"""A logger of the test's own for the smoke test inside a service: one FileHandler, no
propagation, so pytest's handlers take no part; removed again after the test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def host_logger(name: str, path: Path, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """``name`` at ``level``, writing plain lines to ``path`` only."""
    logger = logging.getLogger(name)
    handler = logging.FileHandler(path, encoding="utf-8")
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
