"""uvicorn's h11 protocol, bounded in what one connection can hold.

uvicorn 0.54 caps a request head (``h11_max_incomplete_event_size``) only while it is
incomplete: a head that arrives in one read passes whatever its size, and one that arrives in
pieces is answered 400 and closed at once, while the client is still sending, so the client
gets a TCP reset, not the answer. And it has no deadline for a request head: a connection that
sends nothing, half a header, or a byte now and then is held forever. This protocol:

* gives each request head ``CONVMEM_HEADER_TIMEOUT_SECONDS`` to arrive whole, from the
  connection's start or the first byte after the previous answer, then closes the connection;
* answers a head over ``CONVMEM_MAX_HEADER_BYTES`` 431 in the contract's format, then stops sending and drops what
  the client still sends for a moment before closing (a lingering close), so the 431 is read.

Slow request *bodies* are not bounded here (a large upload on a slow link is legitimate); a
reverse proxy's minimum data rate is the tool for that.
"""

import asyncio
import json

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

from convmem.web.errors import ApiError, Code

LINGER_SECONDS = 2.0


class BoundedH11Protocol(H11Protocol):
    """Made by uvicorn per connection; ``serve`` binds ``header_timeout`` (seconds) with a partial."""

    def __init__(self, *args, header_timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.max_header_bytes = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        self.header_deadline: asyncio.TimerHandle | None = None
        self.discarding = False

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._start_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self._answer_431()
            return
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._start_header_deadline()  # part of a head: its deadline runs from its first byte
        else:
            self._cancel_header_deadline()

    def eof_received(self) -> bool | None:
        if self.discarding:
            self.transport.close()
        return super().eof_received()

    def _head_too_large(self, data: bytes) -> bool:
        # While a head is awaited h11 buffers at most max_header_bytes of it, so this stays cheap.
        pending = self.conn.trailing_data[0] + data
        end = pending.find(b"\r\n\r\n")
        return (end if end >= 0 else len(pending)) > self.max_header_bytes

    def _answer_431(self) -> None:
        error = ApiError(431, Code.HEADERS_TOO_LARGE, f"Request headers are larger than the {self.max_header_bytes}-byte limit")
        body = json.dumps(error.body()).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        for event in (h11.Response(status_code=431, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self._cancel_header_deadline()
        self.discarding = True
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _start_header_deadline(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.header_timeout, self._header_too_slow)

    def _cancel_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _header_too_slow(self) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
