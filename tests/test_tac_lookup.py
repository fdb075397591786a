"""twilio-agent-connect's MemoryClient, unmodified, through its lookup → fetch flow."""

import asyncio

import httpx
import pytest
from tac.context.memory import MemoryClient

from tests.profile_helpers import add_identifier, create_profile


@pytest.fixture
def memory_client(server, api_key, store) -> MemoryClient:
    client = MemoryClient(store_id=store, api_key=api_key.sid, api_secret=api_key.secret)
    client.base_url = server.base_url
    return client


def lookup_then_fetch(client: MemoryClient, id_type: str, value: str, trait_groups=None):
    async def flow():
        found = await client.lookup_profile(id_type, value)
        profile = await client.get_profile(found.profiles[0], trait_groups) if found.profiles else None
        return found, profile

    return asyncio.run(flow())


def test_lookup_then_fetch_by_phone(api, store, memory_client):
    profile = create_profile(api, store, phone="+13175551234", firstName="Ann")
    found, fetched = lookup_then_fetch(memory_client, "phone", "(317) 555-1234", ["Contact"])
    assert found.normalized_value == "+13175551234"
    assert found.profiles == [profile]
    assert fetched.id == profile
    assert fetched.traits == {"Contact": {"phone": "+13175551234", "firstName": "Ann"}}
    assert fetched.created_at.endswith("Z")


def test_lookup_then_fetch_by_email_without_trait_groups(api, store, memory_client):
    profile = create_profile(api, store, email="ann@example.com")
    found, fetched = lookup_then_fetch(memory_client, "email", "ANN@example.com")
    assert found.profiles == [profile]
    assert fetched.traits["Contact"]["email"] == "ann@example.com"


def test_no_match_gives_an_empty_list(api, store, memory_client):
    create_profile(api, store, email="someone@example.com")
    found, fetched = lookup_then_fetch(memory_client, "phone", "+13175559999")
    assert (found.normalized_value, found.profiles, fetched) == ("+13175559999", [], None)


def test_after_a_merge_lookup_gives_the_canonical_id_and_an_alias_fetch_follows_the_redirect(api, store, memory_client):
    canonical = create_profile(api, store, email="c@example.com", firstName="Cee")
    alias = create_profile(api, store, phone="+13175550001")
    add_identifier(api, store, alias, "email", "c@example.com")
    found, fetched = lookup_then_fetch(memory_client, "phone", "+1 317 555 0001", ["Contact"])
    assert found.profiles == [canonical]
    assert fetched.id == canonical
    followed = asyncio.run(memory_client.get_profile(alias, ["Contact"]))
    assert followed.id == canonical
    assert followed.traits["Contact"]["firstName"] == "Cee"


def test_unknown_id_type_raises_an_http_error(store, memory_client):
    with pytest.raises(httpx.HTTPStatusError) as raised:
        asyncio.run(memory_client.lookup_profile("whatsapp", "+13175550001"))
    assert raised.value.response.status_code == 400
    assert "whatsapp" in raised.value.response.json()["message"]
