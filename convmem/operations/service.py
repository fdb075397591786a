"""Operations: the status handle of every control-plane write.

Control-plane work is done inside the request's transaction, so an operation is stored
already COMPLETED (with its RUNNING start time) in the same commit as the change it
describes: it can never claim a change that did not happen, or miss one that did.
Work a request leaves to a background job (removing a deleted trait group's values from
every profile) is stored RUNNING instead, and the job completes it in the commit of its
last chunk.
"""

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from convmem.database.tables import Operation, utcnow
from convmem.kit.ids import Prefix, new_id
from convmem.web.auth import Principal
from convmem.web.errors import not_found

_OPERATION_ID = re.compile(rf"^{Prefix.OPERATION.value}_[0-7][0-9a-z]{{25}}$")


def record_completed(
    session: Session, principal: Principal, kind: str, resource_id: str, result_path: str | None
) -> Operation:
    operation = record_running(session, principal, kind, resource_id, result_path)
    complete(operation)
    return operation


def record_running(
    session: Session, principal: Principal, kind: str, resource_id: str, result_path: str | None
) -> Operation:
    now = utcnow()
    operation = Operation(
        sid=new_id(Prefix.OPERATION),
        account_id=principal.account_id,
        kind=kind,
        status="RUNNING",
        resource_id=resource_id,
        result_path=result_path,
        created_at=now,
        started_at=now,
    )
    session.add(operation)
    return operation


def complete(operation: Operation) -> None:
    operation.status = "COMPLETED"
    operation.completed_at = utcnow()


def complete_if_running(session: Session, operation_sid: str) -> None:
    """The work a RUNNING operation stood for is done (a job's last chunk, or its store deleted)."""
    operation = find_by_sid(session, operation_sid)
    if operation is not None and operation.status == "RUNNING":
        complete(operation)


def fail(operation: Operation, title: str, detail: str) -> None:
    operation.status = "FAILED"
    operation.error = {"title": title, "detail": detail[:1024]}
    operation.completed_at = utcnow()


def find_by_sid(session: Session, operation_sid: str) -> Operation | None:
    """The operation, whoever's it is (for the background job completing it)."""
    return session.scalar(select(Operation).where(Operation.sid == operation_sid).with_for_update())


def get_operation(session: Session, principal: Principal, operation_sid: str) -> Operation:
    # The contract gives operation IDs no pattern, so any other string is a 404, not a 400; it is not looked
    # up, as it may hold characters the database cannot compare (NUL).
    operation = (
        session.scalar(
            select(Operation).where(Operation.sid == operation_sid, Operation.account_id == principal.account_id)
        )
        if _OPERATION_ID.match(operation_sid)
        else None
    )
    if operation is None:
        raise not_found(f"Operation '{operation_sid}' was not found")
    return operation
