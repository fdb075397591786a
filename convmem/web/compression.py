"""Compressed request bodies, and gzip answers.

The contract lets clients compress the bodies of the memory POSTs (``Content-Encoding``:
gzip, deflate, br or compress) and ask for compressed answers (``Accept-Encoding``).
Bodies are decompressed here, before routing, on every route but the streamed uploads.
The body limit applies to the decompressed size as well, so a small compressed body can't
expand past it. ``compress`` is LZW (``ncompress``). Any other encoding is a 400: the
contract lists no 415 for these operations. Answers of 1 KiB or more are gzipped for clients
that accept gzip (Starlette's ``GZipMiddleware``).
"""

import zlib

import brotli
import ncompress

from convmem.web.errors import ApiError, Code, send_error

UNCOMPRESSED = {"", "identity"}
# Routes whose body is a file streamed to disk, byte for byte.
RAW_BODY_PREFIXES = ("/v1/Uploads/",)
GZIP_MINIMUM_BYTES = 1024


class _TooLarge(Exception):
    pass


def _inflate(data: bytes, limit: int) -> bytes:
    """gzip or zlib-framed deflate (told apart by their headers), every gzip member of it."""
    out = bytearray()
    while data:
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
        out += decoder.decompress(data, limit + 1 - len(out))
        if len(out) > limit or decoder.unconsumed_tail:
            raise _TooLarge
        if not decoder.eof:
            raise zlib.error("the data ends early")
        data = decoder.unused_data
    return bytes(out)


def _unbrotli(data: bytes, limit: int) -> bytes:
    decoder = brotli.Decompressor()
    out = decoder.process(data, output_buffer_limit=limit + 1)
    if len(out) > limit:
        raise _TooLarge
    if not decoder.is_finished():
        raise brotli.error("the data ends early")
    return out


class _LzwOutput:
    """Collects ``ncompress``'s output up to ``limit`` bytes. It never raises: an exception
    from the final flush would abort the process, so past the limit it only drops the data."""

    def __init__(self, limit: int):
        self.limit = limit
        self.data = bytearray()
        self.overflowed = False

    def write(self, chunk: bytes) -> int:
        if len(self.data) + len(chunk) > self.limit:
            self.overflowed = True
        else:
            self.data += chunk
        return len(chunk)


class _LzwInput:
    """Feeds the body to ``ncompress``, and ends it early once the output overflowed, so a
    bomb stops expanding within one read of where it passed the limit."""

    def __init__(self, data: bytes, output: _LzwOutput):
        self.data = memoryview(data)
        self.output = output

    def read(self, size: int = -1) -> bytes:
        if self.output.overflowed:
            return b""
        size = len(self.data) if size < 0 else size
        chunk, self.data = self.data[:size], self.data[size:]
        return bytes(chunk)


def _unlzw(data: bytes, limit: int) -> bytes:
    output = _LzwOutput(limit)
    ncompress.decompress(_LzwInput(data, output), output)
    if output.overflowed:
        raise _TooLarge
    return bytes(output.data)


DECODERS = {
    "gzip": _inflate,
    "x-gzip": _inflate,
    "deflate": _inflate,
    "br": _unbrotli,
    "compress": _unlzw,
    "x-compress": _unlzw,
}


def content_encodings(headers: list[tuple[bytes, bytes]]) -> list[str]:
    """The encodings applied to the body, in the order they were applied."""
    values = [value.decode("latin-1") for name, value in headers if name == b"content-encoding"]
    codings = [coding.strip().lower() for value in values for coding in value.split(",")]
    return [coding for coding in codings if coding not in UNCOMPRESSED]


def decode_body(body: bytes, encodings: list[str], limit: int) -> bytes:
    """``body`` with ``encodings`` undone, last applied first; raises the ApiError to answer."""
    unsupported = [coding for coding in encodings if coding not in DECODERS]
    if unsupported:
        raise ApiError(
            400,
            Code.BAD_REQUEST,
            f"Content-Encoding '{unsupported[0]}' is not supported; send the body uncompressed or as gzip, deflate, br or compress",
        )
    for coding in reversed(encodings):
        try:
            body = DECODERS[coding](body, limit)
        except _TooLarge:
            raise ApiError(413, Code.PAYLOAD_TOO_LARGE, f"Request body is larger than the {limit}-byte limit once decompressed") from None
        except (zlib.error, brotli.error, ValueError) as error:
            raise ApiError(400, Code.BAD_REQUEST, f"Request body is not valid {coding} data: {error}") from None
    return body


class DecompressRequests:
    """Hands the app the decompressed body, without ``Content-Encoding``."""

    def __init__(self, app, *, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(RAW_BODY_PREFIXES):
            return await self.app(scope, receive, send)
        encodings = content_encodings(scope["headers"])
        if not encodings:
            return await self.app(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            body = decode_body(b"".join(chunks), encodings, self.max_body_bytes)
        except ApiError as error:
            return await send_error(send, error)
        headers = [(name, value) for name, value in scope["headers"] if name not in (b"content-encoding", b"content-length")]
        scope = {**scope, "headers": headers + [(b"content-length", str(len(body)).encode())]}
        delivered = False

        async def decompressed_receive():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, decompressed_receive, send)
