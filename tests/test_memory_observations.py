"""Observations and their revisions, over HTTP and through the official twilio SDK."""

import pytest
from sqlalchemy import func, select, update

from convmem.database.tables import Observation, ObservationRevision, Profile, Store
from convmem.kit.ids import Prefix, new_id
from tests.contract import assert_conforms

CONVERSATION = "conv_conversation_01jd0000000000000000000000"
OTHER_CONVERSATION = "conv_conversation_01jd0000000000000000000001"


def insert_profile(backend, store_sid: str) -> str:
    with backend.db.writing() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store_sid))
        profile = Profile(sid=new_id(Prefix.PROFILE), store_id=store_pk, traits={}, trait_meta={})
        session.add(profile)
    return profile.sid


def merge_into(backend, survivor_sid: str, merged_sid: str) -> None:
    """What a profile merge leaves behind: the merged profile becomes an alias of the survivor."""
    with backend.db.writing() as session:
        survivor = session.scalar(select(Profile.id).where(Profile.sid == survivor_sid))
        session.execute(update(Profile).where(Profile.sid == merged_sid).values(canonical_id=survivor))


@pytest.fixture
def profile(backend, store) -> str:
    return insert_profile(backend, store)


def base(store, profile) -> str:
    return f"/v1/Stores/{store}/Profiles/{profile}/Observations"


def observation(content="Prefers email over phone calls", **extra) -> dict:
    return {"content": content, "source": "api", "occurredAt": "2025-01-15T10:15:30Z", **extra}


def create(api, store, profile, *items) -> None:
    response = api.post(base(store, profile), json={"observations": list(items)})
    assert response.status_code == 202, response.text
    assert_conforms(response)


def listed(api, store, profile, **params) -> list[dict]:
    response = api.get(base(store, profile), params=params)
    assert response.status_code == 200, response.text
    assert_conforms(response)
    return response.json()["observations"]


def count_rows(backend, model) -> int:
    with backend.db.reading() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_create_accepts_any_rfc3339_form_and_answers_whole_second_utc(api, store, profile):
    create(
        api,
        store,
        profile,
        observation("from TAC", occurredAt="2026-11-22T11:38:47.608933+00:00"),
        observation("with an offset", occurredAt="2026-11-22T13:38:47+02:00"),
        observation("plain Z", occurredAt="2026-11-22T11:38:47Z", conversationIds=[CONVERSATION]),
    )
    items = listed(api, store, profile)
    assert [item["content"] for item in items] == ["plain Z", "with an offset", "from TAC"]
    assert {item["occurredAt"] for item in items} == {"2026-11-22T11:38:47Z"}
    assert items[0]["conversationIds"] == [CONVERSATION]
    for item in items:
        assert item["id"].startswith("mem_observation_")
        assert item["createdAt"] == item["updatedAt"]
        assert item["createdAt"].endswith("Z") and len(item["createdAt"]) == 20


def test_fetch_one(api, store, profile):
    create(api, store, profile, observation("Allergic to peanuts"))
    [item] = listed(api, store, profile)
    response = api.get(f"{base(store, profile)}/{item['id']}")
    assert response.status_code == 200
    assert_conforms(response)
    assert response.json() == item
    assert "Canonical-Profile-Id" not in response.headers


def test_pages_clamp_to_fifty_and_follow_with_the_token_alone(api, store, profile):
    for batch in range(6):
        create(api, store, profile, *[observation(f"note {batch * 10 + i}") for i in range(10)])
    first = api.get(base(store, profile), params={"pageSize": 1000})
    assert first.status_code == 200
    assert_conforms(first)
    body = first.json()
    assert len(body["observations"]) == 50 and body["meta"]["pageSize"] == 50
    assert body["meta"]["key"] == "observations"
    assert body["observations"][0]["content"] == "note 59"
    rest = api.get(base(store, profile), params={"pageToken": body["meta"]["nextToken"]}).json()
    assert [item["content"] for item in rest["observations"]] == [f"note {i}" for i in range(9, -1, -1)]
    assert "nextToken" not in rest["meta"]

    ascending = listed(api, store, profile, pageSize=3, orderBy="ASC")
    assert [item["content"] for item in ascending] == ["note 0", "note 1", "note 2"]


def test_filters(api, store, profile):
    create(
        api,
        store,
        profile,
        observation("a", source="crm"),
        observation("b", conversationIds=[CONVERSATION, OTHER_CONVERSATION]),
        observation("c", conversationIds=[OTHER_CONVERSATION]),
    )
    assert [item["content"] for item in listed(api, store, profile, source="crm")] == ["a"]
    assert [item["content"] for item in listed(api, store, profile, conversationId=CONVERSATION)] == ["b"]
    assert len(listed(api, store, profile, conversationId=OTHER_CONVERSATION)) == 2
    created_at = listed(api, store, profile)[0]["createdAt"]
    assert len(listed(api, store, profile, createdAfter=created_at)) == 3  # inclusive
    assert listed(api, store, profile, createdBefore=created_at) == []  # exclusive
    assert listed(api, store, profile, createdAfter="2999-01-01T00:00:00+01:00") == []
    # The filters travel inside the token.
    first = api.get(base(store, profile), params={"pageSize": 1, "conversationId": OTHER_CONVERSATION}).json()
    second = api.get(base(store, profile), params={"pageToken": first["meta"]["nextToken"]}).json()
    assert [item["content"] for item in first["observations"] + second["observations"]] == ["c", "b"]
    assert "nextToken" not in second["meta"]


def test_patch_keeps_every_version_and_revisions_list_current_first(api, store, profile):
    create(api, store, profile, observation("Customer frustrated with billing"))
    [original] = listed(api, store, profile)
    url = f"{base(store, profile)}/{original['id']}"

    response = api.patch(url, json={"content": "Billing issue resolved"})
    assert response.status_code == 202, response.text
    assert_conforms(response)
    assert response.json() == {"message": "Observation update accepted"}
    assert api.patch(url, json={"source": "crm", "conversationIds": [CONVERSATION]}).status_code == 202
    # Nothing changes, so nothing is recorded.
    assert api.patch(url, json={}).status_code == 202
    assert api.patch(url, json={"source": "crm"}).status_code == 202
    assert api.patch(url, json={"occurredAt": "2025-01-15T12:15:30+02:00"}).status_code == 202

    current = api.get(url).json()
    assert current["content"] == "Billing issue resolved"
    assert current["source"] == "crm"
    assert current["conversationIds"] == [CONVERSATION]
    assert current["createdAt"] == original["createdAt"]

    response = api.get(f"{url}/Revisions")
    assert response.status_code == 200
    assert_conforms(response)
    revisions = response.json()["revisions"]
    assert response.json()["meta"]["key"] == "revisions"
    assert [r["content"] for r in revisions] == [
        "Billing issue resolved",
        "Billing issue resolved",
        original["content"],
    ]
    assert [r["source"] for r in revisions] == ["crm", "api", "api"]
    assert revisions[0] == current
    assert revisions[-1] == original
    assert {r["id"] for r in revisions} == {original["id"]}

    page = api.get(f"{url}/Revisions", params={"pageSize": 2}).json()
    assert len(page["revisions"]) == 2
    rest = api.get(f"{url}/Revisions", params={"pageToken": page["meta"]["nextToken"]}).json()
    assert rest["revisions"] == [original]


def test_delete(api, store, profile, backend):
    create(api, store, profile, observation("short lived"))
    [item] = listed(api, store, profile)
    url = f"{base(store, profile)}/{item['id']}"
    api.patch(url, json={"content": "changed"})
    response = api.delete(url)
    assert response.status_code == 202
    assert_conforms(response)
    assert response.json() == {"message": "Observation deletion accepted"}
    missing = api.get(url)
    assert missing.status_code == 404
    assert_conforms(missing)
    assert api.get(f"{url}/Revisions").status_code == 404
    assert api.delete(url).status_code == 404
    with backend.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Observation).where(Observation.sid == item["id"])) == 0


BAD_BATCHES = {
    "over-long content": [observation("x" * 4097)],
    "empty content": [observation("")],
    "bad source pattern": [observation(source="crm/sync")],
    "empty source": [observation(source="")],
    "eleven conversationIds": [observation(conversationIds=[CONVERSATION] * 11)],
    "bad conversationId": [observation(conversationIds=["conv_1"])],
    "malformed date": [observation(occurredAt="2025-13-45T99:00:00Z")],
    "date without offset": [observation(occurredAt="2025-01-15T10:15:30")],
    "date as a number": [observation(occurredAt=1736936130)],
    "missing occurredAt": [{"content": "x", "source": "api"}],
    "eleven observations": [observation()] * 11,
    "no observations": [],
    # One bad item rejects the whole batch.
    "good then bad": [observation("fine"), observation("x" * 4097)],
}


@pytest.mark.parametrize("name", BAD_BATCHES)
def test_bad_batches_are_refused_whole(api, store, profile, backend, name):
    before = count_rows(backend, Observation)
    response = api.post(base(store, profile), json={"observations": BAD_BATCHES[name]})
    assert response.status_code == 400, response.text
    assert_conforms(response)
    assert response.json()["message"]
    assert count_rows(backend, Observation) == before
    assert listed(api, store, profile) == []


def test_bad_bodies_and_parameters(api, store, profile):
    url = base(store, profile)
    for body in ({"observations": [observation()], "extra": 1}, {}, [observation()], None):
        response = api.post(url, json=body)
        assert response.status_code == 400, (body, response.text)
        assert_conforms(response)
    assert api.post(url, data="{not json", headers={"Content-Type": "application/json"}).status_code == 400
    for params in (
        {"pageSize": 0},
        {"pageSize": 1001},
        {"source": "a/b"},
        {"createdAfter": "yesterday"},
        {"conversationId": "conv_1"},
        {"orderBy": "UP"},
        {"pageToken": "garbage!"},
    ):
        response = api.get(url, params=params)
        assert response.status_code == 400, (params, response.text)
        assert_conforms(response)
    assert listed(api, store, profile) == []


def test_bad_patches_change_nothing(api, store, profile, backend):
    create(api, store, profile, observation("keep me"))
    [item] = listed(api, store, profile)
    url = f"{base(store, profile)}/{item['id']}"
    revisions_before = count_rows(backend, ObservationRevision)
    for body in (
        {"content": "x" * 4097},
        {"content": None},
        {"source": "no/slash"},
        {"occurredAt": "not a date"},
        {"conversationIds": [CONVERSATION] * 11},
    ):
        response = api.patch(url, json=body)
        assert response.status_code == 400, (body, response.text)
        assert_conforms(response)
    assert api.get(url).json() == item
    assert count_rows(backend, ObservationRevision) == revisions_before


def test_unknown_ids(api, store, profile):
    unknown_profile = new_id(Prefix.PROFILE)
    assert api.get(base(store, unknown_profile)).status_code == 404
    assert api.post(base(store, unknown_profile), json={"observations": [observation()]}).status_code == 404
    unknown = api.get(f"{base(store, profile)}/{new_id(Prefix.OBSERVATION)}")
    assert unknown.status_code == 404
    assert_conforms(unknown)
    malformed = api.get(f"{base(store, profile)}/mem_observation_nope")
    assert malformed.status_code == 400
    assert_conforms(malformed)


def test_another_accounts_store_is_not_found(api, server, store, profile, backend):
    from convmem.accounts.service import create_account
    from tests.conftest import Api

    with backend.db.writing() as session:
        stranger = Api(server.base_url, create_account(session, "stranger"))
    assert stranger.get(base(store, profile)).status_code == 404
    assert stranger.post(base(store, profile), json={"observations": [observation()]}).status_code == 404
    assert listed(api, store, profile) == []


def test_merged_profiles_memories_follow_the_survivor(api, store, backend):
    survivor, merged = insert_profile(backend, store), insert_profile(backend, store)
    create(api, store, survivor, observation("from the survivor"))
    create(api, store, merged, observation("from the merged profile"))
    [merged_item] = listed(api, store, merged)
    merge_into(backend, survivor, merged)

    assert {item["content"] for item in listed(api, store, survivor)} == {
        "from the survivor",
        "from the merged profile",
    }

    moved = api.get(base(store, merged), params={"pageSize": 5})
    assert moved.status_code == 301
    assert_conforms(moved)
    assert moved.headers["Canonical-Profile-Id"] == survivor
    assert moved.headers["Location"].endswith(f"{base(store, survivor)}?pageSize=5")

    written = api.post(base(store, merged), json={"observations": [observation()]})
    assert written.status_code == 308
    assert_conforms(written)
    assert api.patch(f"{base(store, merged)}/{merged_item['id']}", json={"content": "x"}).status_code == 308
    assert api.delete(f"{base(store, merged)}/{merged_item['id']}").status_code == 308

    fetched = api.get(f"{base(store, merged)}/{merged_item['id']}")
    assert fetched.status_code == 200
    assert_conforms(fetched)
    assert fetched.headers["Canonical-Profile-Id"] == survivor
    revisions = api.get(f"{base(store, merged)}/{merged_item['id']}/Revisions")
    assert revisions.status_code == 200
    assert revisions.headers["Canonical-Profile-Id"] == survivor

    # Writes through the survivor reach the merged profile's rows.
    assert api.patch(f"{base(store, survivor)}/{merged_item['id']}", json={"content": "edited"}).status_code == 202
    assert api.get(f"{base(store, survivor)}/{merged_item['id']}").json()["content"] == "edited"


def test_deleting_the_profile_deletes_its_memories(api, store, profile, backend):
    create(api, store, profile, observation("gone with the profile"))
    [item] = listed(api, store, profile)
    api.patch(f"{base(store, profile)}/{item['id']}", json={"content": "edited"})
    with backend.db.writing() as session:
        session.execute(Profile.__table__.delete().where(Profile.sid == profile))
    with backend.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Observation).where(Observation.sid == item["id"])) == 0


def test_through_the_twilio_sdk(twilio_client, store, profile):
    from twilio.rest.memory.v1.observation import ObservationList

    memory = twilio_client.memory.v1
    created = memory.observations(store, profile).create(
        ObservationList.CreateObservationsRequest(
            {
                "observations": [
                    {"content": "Prefers window seats", "source": "api", "occurredAt": "2025-01-15T10:15:30Z"},
                    {
                        "content": "Travels monthly",
                        "source": "api",
                        "occurredAt": "2025-01-16T10:15:30Z",
                        "conversationIds": [CONVERSATION],
                    },
                ]
            }
        )
    )
    assert created.message == "Observations creation accepted"
    items = memory.observations(store, profile).list(page_size=1)
    assert [item.content for item in items] == ["Travels monthly", "Prefers window seats"]
    assert items[0].conversation_ids == [CONVERSATION]
    assert items[0].created_at.tzinfo is not None  # parsed as a datetime: whole-second Z
    assert memory.observations(store, profile).list(conversation_id=CONVERSATION)[0].id == items[0].id

    fetched = memory.observations(store, profile, items[1].id).fetch()
    assert fetched.content == "Prefers window seats"
    patched = memory.observations(store, profile, items[1].id).patch(
        ObservationList.ObservationBase({"content": "Prefers aisle seats"})
    )
    assert patched.message == "Observation update accepted"
    revisions = memory.revisions(store, profile, items[1].id).list()
    assert [revision.content for revision in revisions] == ["Prefers aisle seats", "Prefers window seats"]
    assert memory.observations(store, profile, items[1].id).delete()
    assert [item.id for item in memory.observations(store, profile).list()] == [items[0].id]
