"""A live-page client for tests: reads an ``/events`` stream in a thread, as a browser's
EventSource does, so that a test can wait for an event with a deadline."""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event."""

    name: str
    data: str
    id: str | None
    #: ``time.monotonic()`` when it arrived.
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class LiveStream:
    """``GET /events`` on ``address`` ("host:port"), read in a thread."""

    def __init__(self, address: str, *, headers: dict[str, str] | None = None) -> None:
        host, port = address.split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self.connection.request(
            "GET", "/events", headers={"Accept": "text/event-stream", **(headers or {})}
        )
        # Kept: once the response is read to its end (no length), the connection lets go of it.
        self.sock = self.connection.sock
        self.reply = self.connection.getresponse()
        self.status = self.reply.status
        self.events: queue.Queue[Event | None] = queue.Queue()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            while True:
                line = self.reply.readline()
                if not line:
                    break
                text = line.decode().rstrip("\n")
                if text:
                    key, _, value = text.partition(":")
                    fields[key] = value.removeprefix(" ")
                    continue
                if "event" in fields:
                    self.events.put(
                        Event(fields["event"], fields.get("data", ""), fields.get("id"),
                              time.monotonic())
                    )  # fmt: skip
                fields = {}
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            # Closed by close() from the test's thread while reading.
            pass
        self.events.put(None)  # the stream ended

    def next(self, name: str, *, within: float) -> Event:
        """The next event called ``name``; fails after ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {name} event within {within} s") from None
            if event is None:
                raise AssertionError(f"the stream ended before a {name} event")
            if event.name == name:
                return event

    def decision(self, *, within: float, where: dict[str, Any]) -> Event:
        """The next decision event whose data has the fields ``where``."""
        deadline = time.monotonic() + within
        while True:
            event = self.next("decision", within=max(0.0, deadline - time.monotonic()))
            data = event.json
            if all(data.get(key) == value for key, value in where.items()):
                return event

    def close(self) -> None:
        # shutdown() wakes the reading thread; close() alone may leave it blocked.
        with contextlib.suppress(OSError, AttributeError):
            self.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        with contextlib.suppress(OSError):
            self.reply.close()
            self.connection.close()


@contextlib.contextmanager
def live_stream(address: str, **kwargs: Any) -> Iterator[LiveStream]:
    stream = LiveStream(address, **kwargs)
    try:
        yield stream
    finally:
        stream.close()
