"""SQL of data mappings."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from convmem.database.tables import DataMapping


def find_by_sid(session: Session, store_pk: int, sid: str) -> DataMapping | None:
    return session.scalar(select(DataMapping).where(DataMapping.store_id == store_pk, DataMapping.sid == sid))


def find_by_name(session: Session, store_pk: int, display_name: str) -> DataMapping | None:
    return session.scalar(
        select(DataMapping).where(DataMapping.store_id == store_pk, DataMapping.display_name == display_name)
    )


def list_page_query(store_pk: int, mapping_type: str | None = None):
    """The rows a page of the list is cut from (keyset on ``DataMapping.id``)."""
    stmt = select(DataMapping.id, DataMapping).where(DataMapping.store_id == store_pk)
    if mapping_type is not None:
        stmt = stmt.where(DataMapping.type == mapping_type)
    return stmt
