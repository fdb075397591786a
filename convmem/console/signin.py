"""Signing in to the console with the account's credentials, and the session that follows.

The form's SID and secret are checked by ``web.auth`` exactly as an API request's are. The
session is then a cookie signed with the deployment's signing key (itsdangerous), HttpOnly and
SameSite=Strict. It carries the credential's SID, a fingerprint of its stored verifier, so that
rotating the token or deleting the API key ends the sessions opened with it, and the session's
CSRF token, which every form and script of the console sends back with a POST.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from convmem.web.auth import Principal, stored_credential

SESSION_COOKIE = "convmem_console"
# Before sign-in: the nonce the sign-in form must send back (no signing in from another site's form).
SIGN_IN_COOKIE = "convmem_console_signin"
SESSION_SECONDS = 12 * 3600
SIGN_IN_SECONDS = 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """No valid console session: pages send the browser to the sign-in form."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


@dataclass(frozen=True)
class ConsoleUser:
    principal: Principal
    username: str
    csrf_token: str


def verifier_fingerprint(verifier: str) -> str:
    return hashlib.sha256(verifier.encode()).hexdigest()[:32]


class ConsoleSessions:
    """Seals and opens the console's cookies with the deployment's signing key."""

    def __init__(self, key: bytes):
        self._sessions = URLSafeTimedSerializer(key, salt="convmem.console.session")
        self._sign_ins = URLSafeTimedSerializer(key, salt="convmem.console.sign-in")

    def seal(self, username: str, verifier: str) -> str:
        return self._sessions.dumps({"u": username, "f": verifier_fingerprint(verifier), "c": secrets.token_urlsafe(24)})

    def open(self, cookie: str | None) -> dict | None:
        if not cookie:
            return None
        try:
            return self._sessions.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None

    def new_sign_in(self) -> tuple[str, str]:
        """The sign-in cookie and the nonce its form carries."""
        nonce = secrets.token_urlsafe(24)
        return self._sign_ins.dumps(nonce), nonce

    def sign_in_matches(self, cookie: str | None, nonce: str) -> bool:
        if not cookie or not nonce:
            return False
        try:
            expected = self._sign_ins.loads(cookie, max_age=SIGN_IN_SECONDS)
        except BadSignature:
            return False
        return hmac.compare_digest(str(expected), nonce)


def console_user(request: Request) -> ConsoleUser:
    """FastAPI dependency: the signed-in account, counted against its rate limits like an API call."""
    sealed = request.app.state.console_sessions.open(request.cookies.get(SESSION_COOKIE))
    if sealed is None:
        raise SignInRequired()
    with request.app.state.db.reading() as session:
        stored = stored_credential(session, sealed["u"])
    if stored is None or not hmac.compare_digest(verifier_fingerprint(stored[0]), sealed["f"]):
        raise SignInRequired()
    principal = stored[1]
    request.state.account_sid = principal.account_sid
    request.app.state.rate_limits.count_request(principal.account_sid, request.method, request.url.path)
    return ConsoleUser(principal, sealed["u"], sealed["c"])


def check_csrf(user: ConsoleUser, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, user.csrf_token):
        raise CsrfRefused()
