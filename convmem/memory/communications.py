"""Communications: a conversation's messages, kept per profile for Recall's session memory.

An extension (``docs/extensions.md``): the contract's Recall answers a conversation's recent
communications and expands a missing query from them, but gives no way to send them. A
communication sent again (same ``conv_communication_`` id in the store) replaces the stored one.
"""

from sqlalchemy.orm import Session

from convmem.database.tables import Communication, utcnow
from convmem.memory import repository
from convmem.memory.schemas import Communication as CommunicationIn
from convmem.memory.scope import Scope


def add(session: Session, scope: Scope, conversation_id: str, items: list[CommunicationIn]) -> None:
    now = utcnow()
    for item in items:
        stored = repository.find_communication(session, scope.store_pk, item.id)
        values = {
            "profile_id": scope.profile.pk,
            "conversation_id": conversation_id,
            "channel_id": item.channelId,
            "text": item.content.text,
            "author": item.author.model_dump(mode="json", exclude_none=True),
            "recipients": [recipient.model_dump(mode="json", exclude_none=True) for recipient in item.recipients],
            # Without a createdAt, the time it reached us orders it in its conversation.
            "created_at": item.createdAt or (stored.created_at if stored else now),
            "updated_at": item.updatedAt or now,
        }
        if stored is None:
            repository.add_communication(session, Communication(sid=item.id, store_id=scope.store_pk, **values))
        else:
            for name, value in values.items():
                setattr(stored, name, value)
            session.flush()
