"""Session memory: a conversation's communications (an extension, docs/extensions.md), served by
Recall's ``communicationsLimit`` and used for query expansion."""

import asyncio

import pytest
from sqlalchemy import func, select

from convmem.database.tables import Communication, Store
from tests.contract import assert_conforms
from tests.test_memory_observations import insert_profile, merge_into

CONVERSATION = "conv_conversation_01jd0000000000000000000000"
OTHER_CONVERSATION = "conv_conversation_01jd0000000000000000000001"
CUSTOMER = {"id": "conv_participant_01jd0000000000000000000000", "name": "Ada", "address": "+12025551234", "channel": "SMS", "type": "CUSTOMER"}
AGENT = {"id": "conv_participant_01jd0000000000000000000001", "name": "Bot", "address": "+12025550000", "channel": "SMS"}


def communication(number: int, text: str, author=CUSTOMER, **extra) -> dict:
    return {
        "id": f"conv_communication_01jd{number:022d}",
        "content": {"text": text},
        "author": author,
        "recipients": [AGENT if author is CUSTOMER else CUSTOMER],
        "createdAt": f"2025-01-15T10:{number:02d}:00Z",
        **extra,
    }


def path(store, profile, leaf):
    return f"/v1/Stores/{store}/Profiles/{profile}/{leaf}"


def send(api, store, profile, *items, conversation=CONVERSATION):
    response = api.post(path(store, profile, "Communications"), json={"conversationId": conversation, "communications": list(items)})
    assert response.status_code == 202, response.text
    assert response.json() == {"message": "Communications accepted"}


@pytest.fixture
def profile(backend, store) -> str:
    return insert_profile(backend, store)


def test_recall_serves_the_newest_communications_of_the_conversation_oldest_first(api, store, profile):
    send(api, store, profile, *(communication(n, f"message {n}") for n in range(1, 6)))
    send(api, store, profile, communication(30, "elsewhere"), conversation=OTHER_CONVERSATION)
    response = api.post(path(store, profile, "Recall"), json={"conversationId": CONVERSATION, "communicationsLimit": 3})
    assert response.status_code == 200
    assert_conforms(response)
    items = response.json()["communications"]
    assert [item["content"]["text"] for item in items] == ["message 3", "message 4", "message 5"]
    assert items[0]["author"] == CUSTOMER and items[0]["recipients"] == [AGENT]
    assert items[0]["createdAt"] == "2025-01-15T10:03:00Z" and items[0]["updatedAt"].endswith("Z")

    # communicationsLimit 0 (the default) or no conversation: none.
    assert api.post(path(store, profile, "Recall"), json={"conversationId": CONVERSATION}).json()["communications"] == []
    assert api.post(path(store, profile, "Recall"), json={"communicationsLimit": 5}).json()["communications"] == []


def test_a_communication_sent_again_replaces_the_stored_one(api, store, profile, backend):
    send(api, store, profile, communication(1, "first draft"))
    send(api, store, profile, communication(1, "corrected", channelId="SM123"))
    items = api.post(path(store, profile, "Recall"), json={"conversationId": CONVERSATION, "communicationsLimit": 10}).json()
    assert [(c["content"]["text"], c.get("channelId")) for c in items["communications"]] == [("corrected", "SM123")]


def test_a_conversation_without_a_query_is_searched_with_its_last_communications(api, store, profile):
    observations = [
        {"content": "Prefers window seats on long flights", "source": "api", "occurredAt": "2025-01-10T10:00:00Z"},
        {"content": "Pays the invoice by bank transfer", "source": "api", "occurredAt": "2025-01-11T10:00:00Z"},
    ]
    assert api.post(path(store, profile, "Observations"), json={"observations": observations}).status_code == 202
    send(
        api,
        store,
        profile,
        communication(1, "Hi, I am booking a flight to Lisbon"),
        communication(2, "Sure, any seat preference?", author=AGENT),
        communication(3, "Whatever I usually pick"),
    )
    body = api.post(path(store, profile, "Recall"), json={"conversationId": CONVERSATION}).json()
    assert body["meta"]["searchMode"] == "hybrid"
    assert body["observations"][0]["content"] == "Prefers window seats on long flights"
    assert "score" in body["observations"][0]


def test_communications_follow_merges_and_leave_with_their_profile(api, store, backend):
    survivor, merged = insert_profile(backend, store), insert_profile(backend, store)
    send(api, store, merged, communication(1, "said before the merge"))
    merge_into(backend, survivor, merged)
    recalled = api.post(path(store, survivor, "Recall"), json={"conversationId": CONVERSATION, "communicationsLimit": 5})
    assert [c["content"]["text"] for c in recalled.json()["communications"]] == ["said before the merge"]
    moved = api.post(path(store, merged, "Communications"), json={"conversationId": CONVERSATION, "communications": [communication(2, "x")]})
    assert moved.status_code == 308

    assert api.delete(f"/v1/Stores/{store}/Profiles/{survivor}").status_code in (202, 204)
    assert api.delete(f"/v1/Stores/{store}/Profiles/{merged}").status_code in (202, 204, 404)
    with backend.db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        left = session.scalar(select(func.count()).select_from(Communication).where(Communication.store_id == store_pk))
    assert left == 0


@pytest.mark.parametrize(
    "body",
    [
        {"conversationId": CONVERSATION, "communications": []},
        {"conversationId": "conv_nope", "communications": [communication(1, "x")]},
        {"conversationId": CONVERSATION, "communications": [{**communication(1, "x"), "id": "bad"}]},
        {"conversationId": CONVERSATION, "communications": [{**communication(1, "x"), "author": {"id": "x"}}]},
        {"conversationId": CONVERSATION, "communications": [communication(1, "x")], "extra": 1},
    ],
)
def test_bad_communications_are_refused(api, store, profile, body):
    response = api.post(path(store, profile, "Communications"), json=body)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "more_info", "status"}


def test_tac_gets_the_session_memory(server, store, api_key, api, backend):
    from tac.context.memory import MemoryClient

    profile = insert_profile(backend, store)
    send(api, store, profile, communication(1, "Where is my parcel?"), communication(2, "It ships today", author=AGENT))
    client = MemoryClient(store_id=store, api_key=api_key.sid, api_secret=api_key.secret)
    client.base_url = server.base_url
    recalled = asyncio.run(client.retrieve_memory(profile, conversation_id=CONVERSATION, communications_limit=5))
    # TAC drops items it cannot parse: both arriving proves they have its shape.
    assert [c.content.text for c in recalled.communications] == ["Where is my parcel?", "It ships today"]
