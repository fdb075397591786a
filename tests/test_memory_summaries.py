"""Conversation summaries, over HTTP and through the official twilio SDK."""

import pytest
from sqlalchemy import func, select

from convmem.database.tables import ConversationSummary
from convmem.kit.ids import Prefix, new_id
from tests.contract import assert_conforms
from tests.test_memory_observations import insert_profile, merge_into

CONVERSATION = "conv_conversation_01jd0000000000000000000000"
OTHER_CONVERSATION = "conv_conversation_01jd0000000000000000000001"


@pytest.fixture
def profile(backend, store) -> str:
    return insert_profile(backend, store)


def base(store, profile) -> str:
    return f"/v1/Stores/{store}/Profiles/{profile}/ConversationSummaries"


def summary(content="Customer asked about a refund; resolved.", **extra) -> dict:
    return {"content": content, "conversationId": CONVERSATION, "occurredAt": "2025-01-15T10:30:00Z", **extra}


def create(api, store, profile, *items) -> None:
    response = api.post(base(store, profile), json={"summaries": list(items)})
    assert response.status_code == 202, response.text
    assert_conforms(response)
    assert response.json() == {"message": "Summaries creation accepted"}


def listed(api, store, profile, **params) -> list[dict]:
    response = api.get(base(store, profile), params=params)
    assert response.status_code == 200, response.text
    assert_conforms(response)
    assert response.json()["meta"]["key"] == "summaries"
    return response.json()["summaries"]


def test_create_list_fetch(api, store, profile):
    create(
        api,
        store,
        profile,
        summary("first", source="conversational_intelligence", occurredAt="2026-11-22T11:38:47.608933+00:00"),
        summary("second", conversationId=OTHER_CONVERSATION),
    )
    items = listed(api, store, profile)
    assert [item["content"] for item in items] == ["second", "first"]
    assert items[1]["source"] == "conversational_intelligence"
    assert items[1]["occurredAt"] == "2026-11-22T11:38:47Z"
    assert "source" not in items[0]
    assert [item["content"] for item in listed(api, store, profile, conversationId=OTHER_CONVERSATION)] == ["second"]

    response = api.get(f"{base(store, profile)}/{items[1]['id']}")
    assert response.status_code == 200
    assert_conforms(response)
    assert response.json() == items[1]


def test_pages(api, store, profile):
    for batch in range(6):
        create(api, store, profile, *[summary(f"recap {batch * 10 + i}") for i in range(10)])
    body = api.get(base(store, profile), params={"pageSize": 1000}).json()
    assert len(body["summaries"]) == 50
    rest = api.get(base(store, profile), params={"pageToken": body["meta"]["nextToken"]}).json()
    assert len(rest["summaries"]) == 10 and "nextToken" not in rest["meta"]
    assert listed(api, store, profile, conversationId=OTHER_CONVERSATION) == []


def test_patch_and_delete(api, store, profile):
    create(api, store, profile, summary("draft"))
    [item] = listed(api, store, profile)
    url = f"{base(store, profile)}/{item['id']}"
    response = api.patch(url, json={"content": "final", "source": "agent", "occurredAt": "2025-02-01T00:00:00+01:00"})
    assert response.status_code == 202, response.text
    assert_conforms(response)
    assert response.json() == {"message": "Conversation summary update accepted"}
    patched = api.get(url).json()
    assert (patched["content"], patched["source"], patched["occurredAt"]) == ("final", "agent", "2025-01-31T23:00:00Z")
    assert patched["createdAt"] == item["createdAt"]

    response = api.delete(url)
    assert response.status_code == 202
    assert_conforms(response)
    assert response.json() == {"message": "Conversation summary deletion accepted"}
    assert api.get(url).status_code == 404
    assert api.patch(url, json={"content": "x"}).status_code == 404


BAD_BATCHES = {
    "over-long content": [summary("x" * 4097)],
    "bad source pattern": [summary(source="<script>")],
    "missing conversationId": [{"content": "x", "occurredAt": "2025-01-15T10:30:00Z"}],
    "bad conversationId": [summary(conversationId="conv_conversation_x")],
    "malformed date": [summary(occurredAt="15/01/2025")],
    "eleven summaries": [summary()] * 11,
    "good then bad": [summary(), summary(occurredAt="soon")],
}


@pytest.mark.parametrize("name", BAD_BATCHES)
def test_bad_batches_write_nothing(api, store, profile, backend, name):
    with backend.db.reading() as session:
        before = session.scalar(select(func.count()).select_from(ConversationSummary))
    response = api.post(base(store, profile), json={"summaries": BAD_BATCHES[name]})
    assert response.status_code == 400, response.text
    assert_conforms(response)
    with backend.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ConversationSummary)) == before
    assert listed(api, store, profile) == []


def test_bad_patches_change_nothing(api, store, profile):
    create(api, store, profile, summary("keep"))
    [item] = listed(api, store, profile)
    url = f"{base(store, profile)}/{item['id']}"
    for body in ({"content": ""}, {"conversationId": "nope"}, {"occurredAt": "2025-01-15"}, {"source": None}):
        response = api.patch(url, json=body)
        assert response.status_code == 400, (body, response.text)
        assert_conforms(response)
    assert api.get(url).json() == item
    assert api.post(base(store, profile), json={"summaries": [summary()], "more": True}).status_code == 400


def test_merged_profile(api, store, backend):
    survivor, merged = insert_profile(backend, store), insert_profile(backend, store)
    create(api, store, merged, summary("from the merged profile"))
    [item] = listed(api, store, merged)
    merge_into(backend, survivor, merged)
    assert [s["content"] for s in listed(api, store, survivor)] == ["from the merged profile"]
    assert api.get(base(store, merged)).status_code == 301
    assert api.post(base(store, merged), json={"summaries": [summary()]}).status_code == 308
    fetched = api.get(f"{base(store, merged)}/{item['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["Canonical-Profile-Id"] == survivor
    assert api.get(f"{base(store, survivor)}/{new_id(Prefix.SUMMARY)}").status_code == 404


def test_through_the_twilio_sdk(twilio_client, store, profile):
    from twilio.rest.memory.v1.conversation_summary import ConversationSummaryList

    memory = twilio_client.memory.v1
    created = memory.conversation_summaries(store, profile).create(
        ConversationSummaryList.CreateSummariesRequest(
            {
                "summaries": [
                    {
                        "content": "Booked a flight to Lisbon",
                        "conversationId": CONVERSATION,
                        "occurredAt": "2025-01-15T10:30:00Z",
                        "source": "api",
                    }
                ]
            }
        )
    )
    assert created.message == "Summaries creation accepted"
    [listed_summary] = memory.conversation_summaries(store, profile).list(conversation_id=CONVERSATION)
    assert listed_summary.content == "Booked a flight to Lisbon"
    context = memory.conversation_summaries(store, profile, listed_summary.id)
    assert context.fetch().conversation_id == CONVERSATION
    context.patch(ConversationSummaryList.SummaryCorePatch({"content": "Booked a flight to Porto"}))
    assert context.fetch().content == "Booked a flight to Porto"
    assert context.delete()
    assert memory.conversation_summaries(store, profile).list() == []
