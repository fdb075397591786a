"""HTTP Basic auth as Twilio does it: ``AC…`` account SID + auth token, or ``SK…`` API key + secret.

Secrets are random and high-entropy, so a salted SHA-256 is a sound verifier and keeps
every request cheap; comparison is constant-time.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from convmem.database.tables import Account, ApiKey
from convmem.web.errors import ApiError, Code

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Basic realm="convmem"'}


@dataclass(frozen=True)
class Principal:
    account_id: int
    account_sid: str


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def new_secret() -> str:
    return secrets.token_hex(16)


def hash_secret(secret: str) -> str:
    salt = secrets.token_hex(8)
    digest = hashlib.sha256((salt + secret).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "sha256":
        return False
    candidate = hashlib.sha256((salt + secret).encode()).hexdigest()
    return hmac.compare_digest(candidate, digest)


def unauthorized(message: str = "Authentication failed: missing or invalid credentials") -> ApiError:
    return ApiError(401, Code.UNAUTHORIZED, message, headers=_UNAUTHORIZED_HEADERS)


def parse_basic(header: str | None) -> tuple[str, str]:
    if not header or not header.lower().startswith("basic "):
        raise unauthorized("Authentication required: send HTTP Basic credentials")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("Malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise unauthorized("Malformed Basic credentials")
    return username, password


# Prebuilt: every request runs one of them.
_ACCOUNT = select(Account.token_hash, Account.id, Account.sid).where(Account.sid == bindparam("sid"))
_API_KEY = (
    select(ApiKey.secret_hash, Account.id, Account.sid)
    .join(Account, Account.id == ApiKey.account_id)
    .where(ApiKey.sid == bindparam("sid"))
)


def stored_credential(session: Session, username: str) -> tuple[str, Principal] | None:
    """The verifier kept for an account SID or API key SID, with the account it belongs to."""
    statement = _ACCOUNT if username.startswith("AC") else _API_KEY if username.startswith("SK") else None
    if statement is None:
        return None
    row = session.execute(statement, {"sid": username}).first()
    return None if row is None else (row[0], Principal(row[1], row[2]))


def authenticate(session: Session, username: str, password: str) -> Principal:
    stored = stored_credential(session, username)
    if stored and verify_secret(password, stored[0]):
        return stored[1]
    raise unauthorized()


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the account the request's credentials belong to, counted against
    its rate limits; failed attempts are counted against the client's address."""
    rate_limits = request.app.state.rate_limits
    address = request.client.host if request.client else ""
    rate_limits.refuse_blocked_address(address)
    try:
        username, password = parse_basic(request.headers.get("authorization"))
        with request.app.state.db.reading() as session:
            principal = authenticate(session, username, password)
    except ApiError:
        rate_limits.count_failed_auth(address)
        raise
    request.state.account_sid = principal.account_sid
    rate_limits.count_request(principal.account_sid, request.method, request.url.path)
    return principal
