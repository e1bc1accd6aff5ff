"""One sink's thread: a bounded queue of lines, handed to the sink in batches."""

from __future__ import annotations

import queue
import threading
import time

from exporter.sinks import Line, Sink

BATCH_LINES = 512


class SinkThread:
    """A sink, its queue and the thread that feeds it; stopping keeps to a deadline even when
    the sink is stuck."""

    def __init__(self, sink: Sink, maxsize: int) -> None:
        self.sink = sink
        self.maxsize = maxsize
        # SimpleQueue: put and get are C calls, far cheaper than queue.Queue's condition
        # variables; the bound is kept by offer(). None is the stop sentinel.
        self._lines: queue.SimpleQueue[Line | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=f"sink-{sink.name}", daemon=True)

    def start(self) -> None:
        """Start feeding the sink."""
        self._thread.start()

    def offer(self, line: Line) -> bool:
        """Queue a line; False (and nothing queued) when the queue is full."""
        if self._lines.qsize() >= self.maxsize:
            return False
        self._lines.put(line)
        return True

    @property
    def waiting(self) -> int:
        """Lines queued and not yet taken by the sink."""
        return self._lines.qsize()

    def _loop(self) -> None:
        """Hand the sink the next line and every one waiting behind it, up to BATCH_LINES:
        one write for many lines. Ends at the sentinel, after the lines before it."""
        while True:
            first = self._lines.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < BATCH_LINES:
                try:
                    line = self._lines.get_nowait()
                except queue.Empty:
                    break
                if line is None:
                    stop = True
                    break
                batch.append(line)
            self.sink.handle(batch)
            if stop:
                return

    def ask_to_stop(self) -> None:
        """Queue the sentinel behind every line."""
        self._lines.put(None)

    def join_by(self, deadline: float) -> bool:
        """Wait for the thread to finish; True if it did before ``deadline``."""
        if self._thread.ident is None:  # never started
            return True
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()
