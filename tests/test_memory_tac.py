"""twilio-agent-connect's MemoryClient, unmodified, against the server."""

import asyncio

import pytest

from tests.test_memory_observations import insert_profile

CONVERSATION = "conv_conversation_01jd0000000000000000000000"


@pytest.fixture
def memory_client(server, store, api_key):
    from tac.context.memory import MemoryClient

    client = MemoryClient(store_id=store, api_key=api_key.sid, api_secret=api_key.secret)
    client.base_url = server.base_url
    return client


def test_tac_writes_observations_and_summaries_and_recalls_them(memory_client, backend, store, api):
    profile = insert_profile(backend, store)

    async def scenario():
        # TAC's default occurredAt is Python's isoformat(): microseconds and +00:00.
        created = await memory_client.create_observation(
            profile, "Prefers to be contacted by SMS", conversation_ids=[CONVERSATION]
        )
        await memory_client.create_observation(profile, "Owns a golden retriever", source="crm")
        summaries = await memory_client.create_conversation_summaries(
            profile,
            [
                {
                    "content": "Asked to change the contact channel to text messages",
                    "conversationId": CONVERSATION,
                    "occurredAt": "2026-11-22T11:38:47.608933+00:00",
                    "source": "conversation-intelligence",
                }
            ],
        )
        everything = await memory_client.retrieve_memory(profile)
        searched = await memory_client.retrieve_memory(
            profile,
            query="contacted by SMS",
            observations_limit=10,
            summaries_limit=3,
            communications_limit=0,
            relevance_threshold=0.0,
        )
        expanded = await memory_client.retrieve_memory(profile, conversation_id=CONVERSATION)
        return created, summaries, everything, searched, expanded

    created, summaries, everything, searched, expanded = asyncio.run(scenario())
    assert created == {"message": "Observations creation accepted"}
    assert summaries == {"message": "Summaries creation accepted"}

    # Items TAC cannot parse are dropped silently, so counting them proves they parse.
    assert {o.content for o in everything.observations} == {"Prefers to be contacted by SMS", "Owns a golden retriever"}
    assert [s.content for s in everything.summaries] == ["Asked to change the contact channel to text messages"]
    assert everything.meta.query_time is not None
    observation = next(o for o in everything.observations if o.source == "conversation-intelligence")
    assert observation.conversation_ids == [CONVERSATION]
    assert observation.created_at.endswith("Z") and observation.id.startswith("mem_observation_")

    assert searched.observations[0].content == "Prefers to be contacted by SMS"
    assert expanded.observations and expanded.observations[0].content == "Prefers to be contacted by SMS"

    listed = api.get(f"/v1/Stores/{store}/Profiles/{profile}/Observations").json()["observations"]
    assert {o["occurredAt"][-1] for o in listed} == {"Z"}


def test_tac_sees_a_bad_observation_refused(memory_client, backend, store):
    import httpx

    profile = insert_profile(backend, store)
    with pytest.raises(httpx.HTTPStatusError) as refused:
        asyncio.run(memory_client.create_observation(profile, "x" * 5000))
    assert refused.value.response.status_code == 400
    assert asyncio.run(memory_client.retrieve_memory(profile)).observations == []


def test_tac_recalls_a_memory_by_its_meaning_in_the_very_next_call(memory_client, backend, store):
    profile = insert_profile(backend, store)

    async def scenario():
        await memory_client.create_observation(profile, "Prefers window seats on long flights")
        await memory_client.create_observation(profile, "Pays the invoice by bank transfer every month")
        # No wait, no shared word with the memory: only its meaning connects them.
        return await memory_client.retrieve_memory(profile, query="Where does this person like to sit on an aeroplane?")

    recalled = asyncio.run(scenario())
    assert recalled.observations[0].content == "Prefers window seats on long flights"
