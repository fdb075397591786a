"""Hostile and bad input: every case is a clear 4xx (never a 500, never a stalled server)."""

import base64
import json

import pytest
from sqlalchemy import select, text

from convmem.database.tables import Store, TraitGroup
from convmem.web.errors import Code
from tests.contract import assert_conforms
from tests.profile_helpers import create_profile
from tests.test_control_plane_stores import assert_error
from tests.test_control_plane_traitgroups import create_group, groups_path
from tests.test_memory_observations import (
    base,
    insert_profile,
    listed,
    merge_into,
    observation,
)

PROFILES = "/v1/Stores/{store}/Profiles"


def post_raw(api, path: str, raw: str | bytes, method: str = "POST"):
    data = raw.encode() if isinstance(raw, str) else raw
    return api.request(method, path, data=data, headers={"Content-Type": "application/json"})


def group_with_pattern(api, store: str, pattern: str):
    body = {"displayName": "Coded", "traits": {"code": {"dataType": "STRING", "validationRule": {"ruleType": "STRING", "pattern": pattern}}}}
    return api.post(groups_path(store), json=body)


# --- 1. validationRule.pattern runs in linear time ---------------------------------------------


def test_a_catastrophic_pattern_validates_values_in_linear_time(api, store):
    assert group_with_pattern(api, store, "^(a+)+$").status_code == 202
    profiles = PROFILES.format(store=store)
    # With a backtracking engine this value takes 2**40 steps: the request would never finish.
    slow = api.post(profiles, json={"traits": {"Contact": {"email": "re@example.com"}, "Coded": {"code": "a" * 40 + "b"}}}, timeout=30)
    assert_error(slow, 400, Code.INVALID_TRAIT_VALUE, "Coded.code", "pattern")
    fits = api.post(profiles, json={"traits": {"Contact": {"email": "re@example.com"}, "Coded": {"code": "a" * 40}}})
    assert fits.status_code == 202, fits.text


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)b", r"(?<!x)y", "a{1000}{1000}"])
def test_a_pattern_the_linear_engine_cannot_run_is_refused(api, store, pattern):
    assert_error(group_with_pattern(api, store, pattern), 400, Code.BAD_REQUEST, "traits.code.validationRule.pattern")
    assert_error(api.get(f"{groups_path(store)}/Coded"), 404, Code.NOT_FOUND)


def test_a_stored_pattern_the_linear_engine_cannot_run_refuses_values_with_a_400(api, backend, store):
    assert group_with_pattern(api, store, "^a$").status_code == 202
    # A definition stored before patterns ran on RE2, with lookahead (which Python's re ran).
    with backend.db.writing() as session:
        in_store = select(Store.id).where(Store.sid == store).scalar_subquery()
        group = session.scalar(select(TraitGroup).where(TraitGroup.store_id == in_store, TraitGroup.name == "Coded"))
        group.traits = {"code": {"dataType": "STRING", "validationRule": {"ruleType": "STRING", "pattern": "^(?=a)a$"}}}
    response = api.post(PROFILES.format(store=store), json={"traits": {"Contact": {"email": "old@example.com"}, "Coded": {"code": "a"}}})
    assert_error(response, 400, Code.INVALID_TRAIT_VALUE, "Coded.code", "update the trait definition")


def test_patterns_keep_their_meaning(api, store):
    assert group_with_pattern(api, store, r"^\d{3}-[A-Z]+$").status_code == 202
    profiles = PROFILES.format(store=store)
    good = api.post(profiles, json={"traits": {"Contact": {"email": "p@example.com"}, "Coded": {"code": "123-ABC"}}})
    assert good.status_code == 202, good.text
    bad = api.post(profiles, json={"traits": {"Contact": {"email": "p@example.com"}, "Coded": {"code": "12-ABC"}}})
    assert_error(bad, 400, Code.INVALID_TRAIT_VALUE, "Coded.code")


# --- 2. STRING trait values are bounded ------------------------------------------------------


def test_string_trait_values_are_at_most_4096_characters(api, store):
    profiles = PROFILES.format(store=store)
    too_long = api.post(profiles, json={"traits": {"Contact": {"email": "long@example.com", "firstName": "x" * 100_000}}})
    assert_error(too_long, 400, Code.INVALID_TRAIT_VALUE, "Contact.firstName", "4096")
    at_limit = api.post(profiles, json={"traits": {"Contact": {"email": "long@example.com", "firstName": "é" * 4096}}})
    assert at_limit.status_code == 202, at_limit.text


def test_string_items_of_array_traits_are_bounded_too(api, store):
    create_group(api, store, {"displayName": "Tags", "traits": {"tags": {"dataType": "ARRAY"}}})
    response = api.post(
        PROFILES.format(store=store), json={"traits": {"Contact": {"email": "t@example.com"}, "Tags": {"tags": ["ok", "x" * 4097]}}}
    )
    assert_error(response, 400, Code.INVALID_TRAIT_VALUE, "Tags.tags", "4096")


# --- 3. Lone surrogates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, raw, code, where",
    [
        ("/Profiles", '{"traits": {"Contact": {"email": "s@example.com", "firstName": "\\ud800"}}}', Code.INVALID_TRAIT_VALUE, "Contact.firstName"),
        ("/Profiles", '{"traits": {"Contact": {"email": "s\\udfff@example.com"}}}', Code.INVALID_TRAIT_VALUE, "Contact.email"),
        ("/Profiles/Lookup", '{"idType": "email", "value": "a\\ud83d@example.com"}', Code.BAD_REQUEST, "value"),
        ("/Profiles", '{"traits": {"Contact\\ud800": {"email": "s@example.com"}}}', Code.UNKNOWN_TRAIT_GROUP, "Contact"),
    ],
)
def test_a_lone_surrogate_is_refused_on_write(api, store, path, raw, code, where):
    response = post_raw(api, f"/v1/Stores/{store}{path}", raw)
    assert_error(response, 400, code, where)
    if code != Code.UNKNOWN_TRAIT_GROUP:
        assert "surrogate" in response.json()["message"]


def test_a_lone_surrogate_in_memory_content_or_an_identifier_is_refused(api, backend, store):
    profile = create_profile(api, store, email="mem@example.com")
    raw = json.dumps({"observations": [observation("note")]}).replace("note", "\\udc00note")
    assert_error(post_raw(api, base(store, profile), raw), 400, Code.BAD_REQUEST, "observations.0.content", "surrogate")
    identifier = post_raw(api, f"/v1/Stores/{store}/Profiles/{profile}/Identifiers", '{"idType": "email", "value": "\\ud800"}')
    assert_error(identifier, 400, Code.BAD_REQUEST, "surrogate")
    assert listed(api, store, profile) == []


def test_a_surrogate_pair_is_a_character_like_any_other(api, store):
    raw = '{"traits": {"Contact": {"email": "pair@example.com", "firstName": "Zo\\ud83d\\ude00"}}}'
    response = post_raw(api, PROFILES.format(store=store), raw)
    assert response.status_code == 202, response.text
    fetched = api.get(f"{PROFILES.format(store=store)}/{response.json()['id']}")
    assert fetched.json()["traits"]["Contact"]["firstName"] == "Zo\U0001f600"


def test_a_lone_surrogate_already_stored_does_not_break_reads(api, backend, store):
    profile = create_profile(api, store, email="old@example.com")
    # What an older convmem stored: the escape, in the JSON text of the column.
    document = '{"Contact": {"email": "old@example.com", "firstName": "Zo\\ud800"}}'
    value = ":doc" if backend.name == "sqlite" else "CAST(:doc AS json)"
    with backend.db.writing() as session:
        session.execute(text(f"UPDATE profiles SET traits = {value} WHERE sid = :sid"), {"doc": document, "sid": profile})
    response = api.get(f"{PROFILES.format(store=store)}/{profile}")
    assert response.status_code == 200, response.text
    assert_conforms(response)
    assert response.json()["traits"]["Contact"]["firstName"] == "Zo\ufffd"


# --- 4. occurredAt out of range -------------------------------------------------------------


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_an_occurred_at_beyond_the_utc_range_is_400(api, backend, store, when):
    profile = insert_profile(backend, store)
    response = api.post(base(store, profile), json={"observations": [observation(occurredAt=when)]})
    assert_error(response, 400, Code.BAD_REQUEST, "occurredAt")
    summaries = f"/v1/Stores/{store}/Profiles/{profile}/ConversationSummaries"
    summary = {"content": "s", "occurredAt": when, "conversationId": "conv_conversation_01jd0000000000000000000000"}
    assert_error(api.post(summaries, json={"summaries": [summary]}), 400, Code.BAD_REQUEST, "occurredAt")


# --- 5. NUL characters ---------------------------------------------------------------------


def test_nul_in_memory_content_is_400_on_every_backend(api, backend, store):
    profile = insert_profile(backend, store)
    response = api.post(base(store, profile), json={"observations": [observation("a\u0000b")]})
    assert_error(response, 400, Code.BAD_REQUEST, "observations.0.content", "NUL")
    summaries = f"/v1/Stores/{store}/Profiles/{profile}/ConversationSummaries"
    summary = {"content": "a\u0000b", "occurredAt": "2025-01-15T10:15:30Z", "conversationId": "conv_conversation_01jd0000000000000000000000"}
    assert_error(api.post(summaries, json={"summaries": [summary]}), 400, Code.BAD_REQUEST, "summaries.0.content", "NUL")
    assert listed(api, store, profile) == []


def test_nul_in_an_import_filename_is_400(api, store):
    mappings = [
        {"columnName": "email", "traitGroup": "Contact", "traitName": "email"},
        {"columnName": "name", "traitGroup": "Contact", "traitName": "firstName"},
    ]
    body = {"filename": "p\u0000.csv", "fileSize": 10, "columnMappings": mappings}
    response = api.post(f"/v1/Stores/{store}/Profiles/Imports", json=body)
    assert_error(response, 400, Code.BAD_REQUEST, "filename", "NUL")


# --- 6. Page tokens are signed and bound to their list ---------------------------------------


def _forged(**fields) -> str:
    """A token as a client could make one when tokens were plain base64 JSON."""
    payload = {"k": 2**40, "o": "DESC", "s": 50, "b": False, "f": {}, **fields}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def _resigned(token: str, **fields) -> str:
    """``token``'s signature on another payload."""
    payload = base64.urlsafe_b64encode(json.dumps({"k": 2**40, "o": "DESC", "s": 50, "b": False, "f": {}, **fields}).encode())
    return payload.rstrip(b"=").decode() + "." + token.rsplit(".", 1)[-1]


def _imports_page(api, store, **params):
    return api.get(f"/v1/Stores/{store}/Profiles/Imports", params=params)


def _two_pages_of_observations(api, backend, store) -> tuple[str, str]:
    profile = insert_profile(backend, store)
    api.post(base(store, profile), json={"observations": [observation(f"note {n}") for n in range(3)]})
    first = api.get(base(store, profile), params={"pageSize": 1})
    return profile, first.json()["meta"]["nextToken"]


def test_page_tokens_do_not_expose_row_ids(api, backend, store):
    profile, token = _two_pages_of_observations(api, backend, store)
    sealed = token.rsplit(".", 1)[0]
    raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    assert b'"k"' not in raw and b"DESC" not in raw and b"Observations" not in raw
    assert api.get(base(store, profile), params={"pageToken": token}).status_code == 200


def test_a_forged_or_tampered_page_token_is_400(api, backend, store):
    profile, token = _two_pages_of_observations(api, backend, store)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for forged in (_forged(s=5000), _forged(s=-5), _resigned(token, s=5000), flipped):
        response = api.get(base(store, profile), params={"pageToken": forged})
        assert_error(response, 400, Code.INVALID_PAGE_TOKEN, "pageToken")


def test_a_page_token_is_bound_to_its_list(api, backend, store):
    profile, token = _two_pages_of_observations(api, backend, store)
    assert api.get(base(store, profile), params={"pageToken": token}).status_code == 200
    summaries = f"/v1/Stores/{store}/Profiles/{profile}/ConversationSummaries"
    assert_error(api.get(summaries, params={"pageToken": token}), 400, Code.INVALID_PAGE_TOKEN, "pageToken")
    assert_error(_imports_page(api, store, pageToken=token), 400, Code.INVALID_PAGE_TOKEN, "pageToken")
    other_store = api.create_store()
    elsewhere = base(other_store, insert_profile(backend, other_store))
    assert_error(api.get(elsewhere, params={"pageToken": token}), 400, Code.INVALID_PAGE_TOKEN, "pageToken")


def test_a_merged_profile_pages_through_its_old_id(api, backend, store):
    """The SDKs repeat the path they started from: the old id, whose redirect keeps the token."""
    survivor, merged = insert_profile(backend, store), insert_profile(backend, store)
    api.post(base(store, survivor), json={"observations": [observation(f"note {n}") for n in range(3)]})
    merge_into(backend, survivor, merged)
    seen, token = [], None
    while True:
        params = {"pageSize": 1, **({"pageToken": token} if token else {})}
        response = api.get(base(store, merged), params=params, allow_redirects=True)
        assert response.status_code == 200, response.text
        seen += [item["content"] for item in response.json()["observations"]]
        token = response.json()["meta"].get("nextToken")
        if not token:
            break
    assert sorted(seen) == ["note 0", "note 1", "note 2"]


def test_every_worker_process_opens_the_tokens_of_the_others(backend, account, tmp_path):
    """Without CONVMEM_SIGNING_KEY the key is made under the data folder, once, before the
    workers start, so a token from one worker process pages on any other."""
    from tests.conftest import Api, start_server, stop_server

    server = start_server(backend, tmp_path, workers=2, extra_env={"CONVMEM_SIGNING_KEY": ""})
    try:
        api = Api(server.base_url, account)
        store = api.create_store()
        for name in ("Alpha", "Beta", "Gamma"):
            create_group(api, store, {"displayName": name})
        seen, token = [], None
        while True:
            fresh = Api(server.base_url, account)  # a new connection may land on either worker
            response = fresh.get(groups_path(store), params={"pageSize": 1, **({"pageToken": token} if token else {})})
            assert response.status_code == 200, response.text
            seen += [group["displayName"] for group in response.json()["traitGroups"]]
            token = response.json()["meta"].get("nextToken")
            if not token:
                break
        assert sorted(seen) == ["Alpha", "Beta", "Contact", "Gamma"]
    finally:
        stop_server(server)


def test_the_sdk_follows_signed_tokens(twilio_client, api, store):
    for name in ("Alpha", "Beta", "Gamma"):
        create_group(api, store, {"displayName": name})
    names = [group.display_name for group in twilio_client.memory.v1.trait_groups(store).list(page_size=1)]
    assert sorted(names) == ["Alpha", "Beta", "Contact", "Gamma"]


# --- 7. Invalid UTF-8 -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/ControlPlane/Stores", "/v1/Stores/{store}/Profiles"])
def test_invalid_utf8_in_a_json_body_is_malformed_json(api, store, path):
    response = post_raw(api, path.format(store=store), b'{"displayName": "caf\xe9"}')
    body = assert_error(response, 400, Code.MALFORMED_JSON, "UTF-8")
    assert_conforms(response)
    assert body["code"] == 20002


# --- 8. Dates before year 1000 ------------------------------------------------------------------


def test_dates_before_year_1000_are_written_with_four_digit_years(api, backend, store):
    profile = insert_profile(backend, store)
    response = api.post(base(store, profile), json={"observations": [observation(occurredAt="0014-01-01T00:00:00Z")]})
    assert response.status_code == 202, response.text
    [item] = listed(api, store, profile)
    assert item["occurredAt"] == "0014-01-01T00:00:00Z"


# --- 9. Reserved profile paths are 405, not "Invalid profileId" -------------------------------


@pytest.mark.parametrize(
    "method, tail, allow",
    [
        ("PATCH", "Bulk", "PUT"),
        ("GET", "Bulk", "PUT"),
        ("PATCH", "Lookup", "POST"),
        ("GET", "Lookup", "POST"),
        ("PATCH", "Imports", "GET, POST"),
        ("DELETE", "Imports", "GET, POST"),
    ],
)
def test_reserved_profile_paths_answer_405_with_allow(api, store, method, tail, allow):
    response = api.request(method, f"/v1/Stores/{store}/Profiles/{tail}", json={})
    assert_error(response, 405, Code.METHOD_NOT_ALLOWED)
    assert response.headers["Allow"] == allow


def test_a_bad_profile_id_is_still_400(api, store):
    assert_error(api.get(f"/v1/Stores/{store}/Profiles/Nope"), 400, Code.INVALID_ID, "profileId")


# --- 10. Content-Encoding: compress (decoding and its limit: tests/test_compression.py) ------


def test_garbage_that_claims_to_be_lzw_is_400(api, backend, store):
    profile = insert_profile(backend, store)
    response = api.post(base(store, profile), data=b"not lzw", headers={"Content-Type": "application/json", "Content-Encoding": "compress"})
    assert_error(response, 400, Code.BAD_REQUEST, "compress")


# --- 11. Trait names that normalise to the same name ------------------------------------------


def test_two_spellings_of_one_trait_in_one_write_are_400_naming_both(api, store):
    body = {"traits": {"Contact": {"email": "dup@example.com", "First Name": "Ann", "first_name": "Bea"}}}
    response = api.post(PROFILES.format(store=store), json=body)
    assert_error(response, 400, Code.BAD_REQUEST, "'First Name'", "'first_name'", "Contact.firstName")
