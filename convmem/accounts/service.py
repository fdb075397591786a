"""Accounts and API keys: creating credentials (the secrets are shown once, stored hashed)."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from convmem.database.tables import Account, ApiKey
from convmem.web.auth import hash_secret, new_secret, new_sid, verify_secret


@dataclass(frozen=True)
class Credentials:
    sid: str
    secret: str
    account_sid: str


def create_account(session: Session, friendly_name: str | None = None) -> Credentials:
    sid, token = new_sid("AC"), new_secret()
    session.add(Account(sid=sid, token_hash=hash_secret(token), friendly_name=friendly_name))
    session.flush()
    return Credentials(sid=sid, secret=token, account_sid=sid)


def create_api_key(session: Session, account_sid: str, friendly_name: str | None = None) -> Credentials:
    account = session.scalar(select(Account).where(Account.sid == account_sid))
    if account is None:
        raise LookupError(f"No account {account_sid}")
    sid, secret = new_sid("SK"), new_secret()
    session.add(ApiKey(sid=sid, account_id=account.id, secret_hash=hash_secret(secret), friendly_name=friendly_name))
    session.flush()
    return Credentials(sid=sid, secret=secret, account_sid=account_sid)


def ensure_account(session: Session, sid: str, token: str) -> bool:
    """Make the configured account exist with this token. True if it was created or changed."""
    account = session.scalar(select(Account).where(Account.sid == sid))
    if account is None:
        session.add(Account(sid=sid, token_hash=hash_secret(token), friendly_name="configured"))
        return True
    if not verify_secret(token, account.token_hash):
        account.token_hash = hash_secret(token)
        return True
    return False


def has_accounts(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Account)))
