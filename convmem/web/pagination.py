"""Token pagination as the Twilio clients consume it.

Tokens carry the position *and* the query (order, page size, filters), so a follow-up
request holding only ``pageToken`` still pages correctly (the Python SDK's
``*_with_http_info`` helpers drop every other parameter). They are sealed with the server's
key (``app.state.page_tokens``, made once per app) by authenticated encryption: the row ids of positions stay
private, and a client can neither forge a token (a page of 5000 items, a negative size) nor
alter one. Each is bound to the list that issued it (its path, with any profile id left out, since
a merged profile's lists are also read through its old id's redirect), so it cannot be
replayed on another store's list or another kind of list. Paging is keyset: a deep page
costs what the first costs.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import InvalidToken
from fastapi import Request
from sqlalchemy import Select, tuple_

from convmem.kit.ids import PATTERNS
from convmem.kit.sealing import JsonSeal
from convmem.web.errors import ApiError, Code, bad_request

MAX_TOKEN_LENGTH = 4096  # the contract's maxLength of pageToken
_NOT_ISSUED = "pageToken is not a token this server issued for this list"


class PageTokens(JsonSeal):
    """Seals token payloads (``kit.sealing``): the payload is private, and a token is opened only
    if this server's key sealed it, unaltered."""

    def __init__(self, key: bytes):
        super().__init__(key, purpose="convmem.page-token")


@dataclass(frozen=True)
class PageRequest:
    size: int
    order: str = "DESC"
    cursor: Any = None
    backwards: bool = False
    filters: dict = field(default_factory=dict)
    # The list the tokens of this page are valid for (``list_of``), and what seals them.
    list_path: str = ""
    tokens: PageTokens | None = field(default=None, compare=False, repr=False)


@dataclass
class Page:
    items: list
    next_token: str | None
    previous_token: str | None


def list_of(path: str) -> str:
    """The list a path names, whichever profile id addresses it: the SDKs page a merged
    profile through its old id, which redirects to the canonical one, token and all."""
    return "/".join("{profileId}" if PATTERNS["profileId"].match(part) else part for part in path.split("/"))


def _query_param(request: Request, *names: str) -> str | None:
    for name in names:
        value = request.query_params.get(name)
        if value is not None:
            return value
    return None


def parse_page_request(
    request: Request, *, max_size: int, default_size: int = 50, filters: dict | None = None
) -> PageRequest:
    tokens = request.app.state.page_tokens
    list_path = list_of(request.url.path)
    token = _query_param(request, "pageToken", "PageToken")
    if token:
        return decode_token(token, tokens=tokens, list_path=list_path, max_size=max_size)
    raw_size = _query_param(request, "pageSize", "PageSize")
    size = default_size
    if raw_size is not None:
        try:
            size = int(raw_size)
        except ValueError:
            raise bad_request(f"pageSize must be an integer from 1 to {max_size}") from None
        if not 1 <= size <= max_size:
            raise bad_request(f"pageSize must be between 1 and {max_size}, got {size}")
    order = _query_param(request, "orderBy", "OrderBy") or "DESC"
    if order not in ("ASC", "DESC"):
        raise bad_request("orderBy must be ASC or DESC")
    return PageRequest(size=size, order=order, filters=filters or {}, list_path=list_path, tokens=tokens)


def encode_token(page: PageRequest, cursor: Any, backwards: bool) -> str:
    payload = {"p": page.list_path, "k": cursor, "o": page.order, "s": page.size, "b": backwards, "f": page.filters}
    return page.tokens.seal(payload)


def decode_token(token: str, *, tokens: PageTokens, list_path: str, max_size: int) -> PageRequest:
    """The page a token asks for, once its signature, its list and every field check out."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise ApiError(400, Code.INVALID_PAGE_TOKEN, f"pageToken is longer than {MAX_TOKEN_LENGTH} characters")
    try:
        payload = tokens.open(token)
    except InvalidToken:
        raise ApiError(400, Code.INVALID_PAGE_TOKEN, _NOT_ISSUED) from None
    if not _valid_payload(payload, list_path, max_size):
        raise ApiError(400, Code.INVALID_PAGE_TOKEN, _NOT_ISSUED)
    return PageRequest(
        size=payload["s"],
        order=payload["o"],
        cursor=payload["k"],
        backwards=payload["b"],
        filters=payload["f"],
        list_path=list_path,
        tokens=tokens,
    )


def _valid_payload(payload: Any, list_path: str, max_size: int) -> bool:
    """Sealed tokens are ours, but a key shared with an older release (or a bug) must still
    never put a page size, order or filter the list would refuse from its parameters into SQL."""
    if not isinstance(payload, dict) or set(payload) != {"p", "k", "o", "s", "b", "f"}:
        return False
    size, filters = payload["s"], payload["f"]
    return (
        payload["p"] == list_path
        and type(size) is int
        and 1 <= size <= max_size
        and payload["o"] in ("ASC", "DESC")
        and type(payload["b"]) is bool
        and isinstance(filters, dict)
        and all(_is_filter_value(value) for value in filters.values())
    )


def _is_filter_value(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    return isinstance(value, (str, int, bool))


def _tokens(page: PageRequest, rows: list, has_more: bool, key_of: Callable[[Any], Any]) -> Page:
    if page.backwards:
        rows.reverse()
    more_after = has_more if not page.backwards else page.cursor is not None
    more_before = has_more if page.backwards else page.cursor is not None
    next_token = encode_token(page, key_of(rows[-1]), False) if rows and more_after else None
    prev_token = encode_token(page, key_of(rows[0]), True) if rows and more_before else None
    return Page(rows, next_token, prev_token)


def keyset(
    session, stmt: Select, key_columns: Sequence, page: PageRequest, key_of: Callable[[Any], Any]
) -> Page:
    """Run ``stmt`` one page at a time, ordered by ``key_columns`` (unique together)."""
    ascending = (page.order == "ASC") != page.backwards
    key = key_columns[0] if len(key_columns) == 1 else tuple_(*key_columns)
    if page.cursor is not None:
        _check_cursor(page.cursor, key_columns)
        cursor = page.cursor if len(key_columns) == 1 else tuple(page.cursor)
        stmt = stmt.where(key > cursor if ascending else key < cursor)
    ordering = [c.asc() if ascending else c.desc() for c in key_columns]
    rows = list(session.execute(stmt.order_by(*ordering).limit(page.size + 1)).all())
    has_more = len(rows) > page.size
    return _tokens(page, rows[: page.size], has_more, key_of)


_INVALID_CURSOR = "pageToken was not issued for this list"


def _check_cursor(cursor: Any, key_columns: Sequence) -> None:
    """A token's position must have the key's shape and types before it reaches SQL: a
    token from another list, or forged, is the client's mistake (400), never a 500."""
    values = [cursor] if len(key_columns) == 1 else cursor
    if not isinstance(values, list) or len(values) != len(key_columns):
        raise ApiError(400, Code.INVALID_PAGE_TOKEN, _INVALID_CURSOR)
    for value, column in zip(values, key_columns):
        expected = column.type.python_type
        if expected is int:
            valid = isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
        elif expected is str:
            valid = isinstance(value, str) and "\x00" not in value
        else:
            valid = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        if not valid:
            raise ApiError(400, Code.INVALID_PAGE_TOKEN, _INVALID_CURSOR)


def paginate_sorted(items: Sequence, page: PageRequest, key_of: Callable[[Any], Any]) -> Page:
    """Keyset paging over an in-memory list already sorted ascending by ``key_of``."""
    ascending = (page.order == "ASC") != page.backwards
    ordered = list(items) if ascending else list(reversed(items))
    if page.cursor is not None:
        cursor = _k(page.cursor)
        try:
            ordered = [i for i in ordered if (_k(key_of(i)) > cursor) == ascending and _k(key_of(i)) != cursor]
        except TypeError:
            raise ApiError(400, Code.INVALID_PAGE_TOKEN, _INVALID_CURSOR) from None
    rows = ordered[: page.size]
    return _tokens(page, rows, len(ordered) > page.size, key_of)


def _k(key: Any) -> Any:
    return tuple(key) if isinstance(key, (list, tuple)) else key


def page_body(key: str, items: list, page: Page) -> dict:
    """The list body the clients need: items under ``key`` and ``meta.key`` naming it."""
    meta: dict[str, Any] = {"key": key, "pageSize": len(items)}
    if page.next_token:
        meta["nextToken"] = page.next_token
    if page.previous_token:
        meta["previousToken"] = page.previous_token
    return {key: items, "meta": meta}
