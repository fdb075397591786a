"""Idempotent writes: a write carrying ``Idempotency-Key`` (or Twilio's
``I-Twilio-Idempotency-Token``) is done at most once per key; a retry gets the first answer.

How the guarantee holds (``docs/extensions.md`` says it for clients):

* ``IdempotentWrites`` (the edge) reads the key and fingerprints the request: method, path
  with query, SHA-256 of the body as decompressed.
* ``reserve`` runs in ``write_session``, inside the request's write transaction, before the
  route writes anything: the key's row commits with the write or rolls back with it.
  Concurrent requests with one key queue on that row (PostgreSQL: its primary key; SQLite: the
  writer lock); the later one finds the key taken and writes nothing.
* Once the route has answered, ``IdempotentWrites`` stores the answer under the key in a short
  transaction of its own, *before* sending it: a client that got the answer finds it stored.
  An answer of 400 or more is not stored and its key is released: such a request wrote
  nothing (its transaction rolled back), so a corrected retry with the same key is done.
* A request finding the key taken by another request: a different fingerprint is 422; a stored
  answer is replayed (``Idempotent-Replayed: true``); no answer yet means the first request is
  still answering, so it waits for the answer up to ``ANSWER_WAIT_SECONDS`` and then gets 409.
  The 409 is also what a retry sees, until the key expires, if the process died between the
  commit and storing the answer: the write is done, its answer is lost.
"""

import asyncio
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from convmem.database.engine import Database
from convmem.database.tables import IdempotencyKey
from convmem.web.errors import ApiError, Code, send_error
from convmem.web.observability import STREAMED_BODY_LIMITS

log = logging.getLogger("convmem.idempotency")

KEY_HEADERS = (b"idempotency-key", b"i-twilio-idempotency-token")
MAX_KEY_LENGTH = 255
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The headers of an answer that a replay repeats; the others (request id, length, encoding)
# belong to the exchange that carries it.
REPLAYED_HEADERS = frozenset({"content-type", "location", "operation-id", "etag", "retry-after", "canonical-profile-id"})
REPLAYED_MARK = ("Idempotent-Replayed", "true")
# How long a request finding its key reserved but unanswered waits for the first one's answer:
# the first has committed, and stores its answer right after.
ANSWER_WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.05
_STATE = "idempotency"


@dataclass
class KeyedRequest:
    """A write's key and fingerprint; ``token`` is set once this request has reserved the key."""

    key: str
    fingerprint: str
    account_id: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def response(self) -> Response:
        return Response(self.body, status_code=self.status, headers={**self.headers, REPLAYED_MARK[0]: REPLAYED_MARK[1]})


class KeyTaken(Exception):
    """Another request holds the key with this same request: replay its answer, or wait for it."""

    def __init__(self, account_id: int, key: str, answer: StoredAnswer | None):
        super().__init__(key)
        self.account_id = account_id
        self.key = key
        self.answer = answer


def keyed_request(request: Request) -> KeyedRequest | None:
    return getattr(request.state, _STATE, None)


def reserve(session: Session, request: Request, account_id: int) -> None:
    """Reserve the request's key in the write transaction of ``session``, or raise: 422 for a
    key used by another request, ``KeyTaken`` for a key this same request already holds."""
    keyed = keyed_request(request)
    if keyed is None:
        return
    now = datetime.now(timezone.utc)
    ttl = timedelta(seconds=request.app.state.settings.idempotency_ttl_seconds)
    token = secrets.token_hex(16)
    row = {"account_id": account_id, "key": keyed.key, "fingerprint": keyed.fingerprint, "token": token,
           "created_at": now, "expires_at": now + ttl}
    insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    the_key = _the_key(account_id, keyed.key)
    for _attempt in range(2):
        # Waits (PostgreSQL) for a concurrent holder of the key to commit or roll back.
        reserving = insert(IdempotencyKey.__table__).values(row).on_conflict_do_nothing().returning(IdempotencyKey.key)
        if session.execute(reserving).first() is not None:
            keyed.account_id, keyed.token = account_id, token
            return
        held = session.get(IdempotencyKey, (account_id, keyed.key), populate_existing=True)
        if held is None or held.expires_at <= now:
            # Released or expired since: the key is free again.
            session.execute(delete(IdempotencyKey).where(the_key, IdempotencyKey.expires_at <= now))
            continue
        if held.fingerprint != keyed.fingerprint:
            raise ApiError(
                422,
                Code.IDEMPOTENCY_KEY_REUSED,
                "Idempotency-Key was already used with another request (method, path or body); use a new key",
            )
        answer = None if held.status is None else StoredAnswer(held.status, held.headers or {}, held.body or b"")
        raise KeyTaken(account_id, keyed.key, answer)
    raise _in_use()


async def answer_taken_key(request: Request, taken: KeyTaken) -> Response:
    """The first answer under the key, waiting for it while the first request stores it."""
    db: Database = request.app.state.db
    deadline = time.monotonic() + ANSWER_WAIT_SECONDS
    answer = taken.answer
    while answer is None and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_SECONDS)
        answer = await run_in_threadpool(_stored_answer, db, taken.account_id, taken.key)
    if answer is None:
        error = _in_use()
        return JSONResponse(error.body(), status_code=error.status)
    return answer.response()


def _in_use() -> ApiError:
    return ApiError(
        409,
        Code.IDEMPOTENCY_KEY_IN_USE,
        "A request with this Idempotency-Key is being processed, or was done but its answer was lost; "
        "retry later, or check the resource and use a new key",
    )


def _stored_answer(db: Database, account_id: int, key: str) -> StoredAnswer | None:
    with db.reading() as session:
        held = session.get(IdempotencyKey, (account_id, key))
        if held is None or held.status is None:
            return None
        return StoredAnswer(held.status, held.headers or {}, held.body or b"")


def _the_key(account_id: int, key: str):
    return (IdempotencyKey.account_id == account_id) & (IdempotencyKey.key == key)


def settle(db: Database, keyed: KeyedRequest, status: int, headers: dict[str, str], body: bytes) -> None:
    """Store the answer under the key this request reserved, or release the key after an
    error answer; then delete the account's expired keys. A key whose write rolled back is
    not there: nothing happens to it."""
    mine = _the_key(keyed.account_id, keyed.key) & (IdempotencyKey.token == keyed.token)
    with db.writing() as session:
        if status < 400:
            session.execute(update(IdempotencyKey).where(mine).values(status=status, headers=headers, body=body))
        else:
            session.execute(delete(IdempotencyKey).where(mine))
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.account_id == keyed.account_id, IdempotencyKey.expires_at <= datetime.now(timezone.utc)
            )
        )


def _header_key(scope) -> bytes | None:
    headers = dict(scope["headers"])
    return next((headers[name] for name in KEY_HEADERS if name in headers), None)


def _fingerprint(scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b"")):
        digest.update(part + b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotentWrites:
    """The edge of idempotent writes: fingerprints a keyed write, and stores its answer once
    the route has answered and before the answer is sent."""

    def __init__(self, app, *, db: Database):
        self.app = app
        self.db = db

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS or _streamed(scope["path"]):
            return await self.app(scope, receive, send)
        raw_key = _header_key(scope)
        if raw_key is None:
            return await self.app(scope, receive, send)
        key = raw_key.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            error = ApiError(400, Code.BAD_REQUEST, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
            return await send_error(send, error)

        body, disconnected = await _read_body(receive)
        keyed = KeyedRequest(key, _fingerprint(scope, body))
        scope.setdefault("state", {})[_STATE] = keyed
        messages = []

        async def capture(message):
            messages.append(message)

        await self.app(scope, _replaying(body, disconnected, receive), capture)
        if keyed.token is not None and messages:
            await self._settle(keyed, messages)
        for message in messages:
            await send(message)

    async def _settle(self, keyed: KeyedRequest, messages: list[dict]) -> None:
        start = messages[0]
        headers = {}
        for name, value in start.get("headers", []):
            name = name.decode("latin-1").lower()
            if name in REPLAYED_HEADERS:
                headers[name] = value.decode("latin-1")
        body = b"".join(message.get("body", b"") for message in messages[1:])
        try:
            await run_in_threadpool(settle, self.db, keyed, start["status"], headers, body)
        except Exception:  # the write is committed; its answer still goes out
            log.exception("could not store the answer of Idempotency-Key %r", keyed.key)


def document_in_openapi(schema: dict) -> dict:
    """Show the two key headers on every write operation of the server's own OpenAPI."""
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method.upper() in WRITE_METHODS:
                operation.setdefault("parameters", []).extend(_KEY_PARAMETERS)
    return schema


_KEY_PARAMETERS = [
    {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
        "description": "convmem extension (docs/extensions.md): a retry with the same key and request gets the "
        "first answer and writes nothing again; the same key with another request is 422.",
    }
    for name in ("Idempotency-Key", "I-Twilio-Idempotency-Token")
]


def _streamed(path: str) -> bool:
    """Uploads keep their own transaction and stream the body to disk: no key applies."""
    return any(path.startswith(prefix) for prefix in STREAMED_BODY_LIMITS)


async def _read_body(receive) -> tuple[bytes, bool]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replaying(body: bytes, disconnected: bool, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnected:
            return {"type": "http.disconnect"}
        return await receive()

    return replay
