"""SQL of imports and their per-row error report."""

from collections.abc import Iterator, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from convmem.database.engine import Database
from convmem.database.tables import Import, ImportRowError
from convmem.web.pagination import Page, PageRequest, keyset

KIND = "import"
REPORT_PAGE = 5000


def get(session: Session, store_pk: int, import_sid: str) -> Import | None:
    return session.scalar(select(Import).where(Import.sid == import_sid, Import.store_id == store_pk))


def by_sid(session: Session, import_sid: str) -> Import | None:
    return session.scalar(select(Import).where(Import.sid == import_sid))


def by_job(session: Session, job_id: int) -> Import | None:
    return session.scalar(select(Import).where(Import.job_id == job_id))


def unfinished_blob_keys(session: Session, store_pk: int) -> list[str]:
    """Where the store's imports that are still PENDING or PROCESSING keep (or will keep) their
    file; a finished import has deleted its own."""
    stmt = select(Import.blob_key).where(Import.store_id == store_pk, Import.status.in_(("PENDING", "PROCESSING")))
    return list(session.scalars(stmt))


def page_of(session: Session, store_pk: int, page: PageRequest) -> Page:
    stmt = select(Import.id, Import.sid).where(Import.store_id == store_pk)
    return keyset(session, stmt, [Import.id], page, key_of=lambda row: row.id)


def add_row_errors(session: Session, import_pk: int, entries: Sequence[tuple[int, str, str, str]]) -> None:
    """Entries are (row number, column, severity, reason)."""
    if entries:
        session.execute(
            insert(ImportRowError),
            [
                {"import_id": import_pk, "row_number": row, "column": column[:64], "severity": severity, "reason": reason[:1024]}
                for row, column, severity, reason in entries
            ],
        )


def row_errors(db: Database, import_pk: int) -> Iterator[ImportRowError]:
    """The report in file order, read a page per transaction so a long download holds no snapshot."""
    after = 0
    while True:
        with db.reading() as session:
            rows = list(
                session.scalars(
                    select(ImportRowError)
                    .where(ImportRowError.import_id == import_pk, ImportRowError.id > after)
                    .order_by(ImportRowError.id)
                    .limit(REPORT_PAGE)
                )
            )
        yield from rows
        if len(rows) < REPORT_PAGE:
            return
        after = rows[-1].id


def latest(session: Session, store_pk: int, limit: int) -> list[Import]:
    return list(session.scalars(select(Import).where(Import.store_id == store_pk).order_by(Import.id.desc()).limit(limit)))


def first_row_errors(session: Session, import_pk: int, limit: int) -> list[ImportRowError]:
    stmt = select(ImportRowError).where(ImportRowError.import_id == import_pk).order_by(ImportRowError.id).limit(limit)
    return list(session.scalars(stmt))
