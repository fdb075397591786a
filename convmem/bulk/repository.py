"""SQL of bulk batches: they are jobs of kind ``bulk``."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from convmem.database.tables import Job, Store

KIND = "bulk"


def get(session: Session, store_pk: int, operation_sid: str) -> Job | None:
    return session.scalar(select(Job).where(Job.sid == operation_sid, Job.store_id == store_pk, Job.kind == KIND))


def get_for_account(session: Session, account_pk: int, operation_sid: str) -> tuple[Job, str] | None:
    """A batch of any of the account's stores, with its store's id."""
    row = session.execute(
        select(Job, Store.sid)
        .join(Store, Store.id == Job.store_id)
        .where(Job.sid == operation_sid, Job.kind == KIND, Store.account_id == account_pk)
    ).first()
    return None if row is None else (row[0], row[1])


def latest(session: Session, store_pk: int, limit: int) -> list[Job]:
    return list(
        session.scalars(select(Job).where(Job.store_id == store_pk, Job.kind == KIND).order_by(Job.id.desc()).limit(limit))
    )
