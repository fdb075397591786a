"""Idempotent writes: ``Idempotency-Key`` / ``I-Twilio-Idempotency-Token`` (docs/extensions.md)."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from convmem.web import idempotency
from tests.inprocess import app_api


def _key() -> str:
    return f"key-{uuid.uuid4()}"


def _profile_body(email: str) -> dict:
    return {"traits": {"Contact": {"email": email}}}


def _profile_count(api, store: str) -> int:
    response = api.get(f"/v1/Stores/{store}/Profiles", params={"pageSize": 100})
    assert response.status_code == 200, response.text
    return len(response.json()["profiles"])


def _create(api, store: str, key: str, email: str, header: str = "Idempotency-Key"):
    return api.post(f"/v1/Stores/{store}/Profiles", json=_profile_body(email), headers={header: key})


@pytest.mark.parametrize("header", ["Idempotency-Key", "I-Twilio-Idempotency-Token"])
def test_a_retry_gets_the_first_answer_and_writes_nothing(api, store, header):
    key = _key()
    first = _create(api, store, key, "ann@example.com", header)
    retry = _create(api, store, key, "ann@example.com", header)

    assert first.status_code == 202, first.text
    assert (retry.status_code, retry.json()) == (first.status_code, first.json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _profile_count(api, store) == 1


def test_a_replay_repeats_the_headers_that_matter(api):
    key = _key()
    body = {"displayName": f"s-{uuid.uuid4().hex[:12]}"}
    first = api.post("/v1/ControlPlane/Stores", json=body, headers={"Idempotency-Key": key})
    retry = api.post("/v1/ControlPlane/Stores", json=body, headers={"Idempotency-Key": key})

    assert first.status_code == retry.status_code == 202
    for header in ("Operation-Id", "Location", "Content-Type"):
        assert retry.headers[header] == first.headers[header]
    assert len(api.get("/v1/ControlPlane/Stores").json()["stores"]) == 1  # the account is new


def test_the_same_key_with_another_request_is_422_and_writes_nothing(api, store):
    key = _key()
    assert _create(api, store, key, "ann@example.com").status_code == 202

    other_body = _create(api, store, key, "bob@example.com")
    other_path = api.post(f"/v1/Stores/{store}/Profiles?x=1", json=_profile_body("ann@example.com"), headers={"Idempotency-Key": key})

    for answer in (other_body, other_path):
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == 80030
        assert set(answer.json()) == {"code", "message", "more_info", "status"}
    assert _profile_count(api, store) == 1


def test_an_error_answer_is_not_kept_so_a_corrected_retry_writes(api, store):
    key = _key()
    refused = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"NoSuchGroup": {"x": 1}}}, headers={"Idempotency-Key": key})
    assert refused.status_code == 400, refused.text

    corrected = _create(api, store, key, "ann@example.com")
    assert corrected.status_code == 202, corrected.text
    assert "Idempotent-Replayed" not in corrected.headers
    assert _profile_count(api, store) == 1


def test_keys_belong_to_one_account(api, store, backend, server):
    from convmem.accounts.service import create_account
    from tests.conftest import Api

    with backend.db.writing() as session:
        other = Api(server.base_url, create_account(session, "other"))
    other_store = other.create_store()
    key = _key()
    assert _create(api, store, key, "ann@example.com").status_code == 202
    answer = _create(other, other_store, key, "ann@example.com")
    assert answer.status_code == 202
    assert "Idempotent-Replayed" not in answer.headers
    assert _profile_count(other, other_store) == 1


def test_concurrent_duplicates_write_once_and_all_get_its_answer(api, store):
    key = _key()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: _create(api, store, key, "ann@example.com"), range(6)))

    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert sum("Idempotent-Replayed" not in answer.headers for answer in answers) == 1
    assert _profile_count(api, store) == 1


class _KeyedHttpClient(TwilioHttpClient):
    """The official SDK's own HTTP client, sending a key as an application would."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def request(self, method, url, params=None, data=None, headers=None, **kwargs):
        headers = {**(headers or {}), "I-Twilio-Idempotency-Token": self.key}
        return super().request(method, url, params=params, data=data, headers=headers, **kwargs)


def test_a_python_sdk_retry_adds_no_second_observation(server, account, api, store):
    from twilio.rest.memory.v1.observation import ObservationList

    profile = _create(api, store, _key(), "ann@example.com").json()["id"]
    client = Client(account.sid, account.secret, environment={"_": "1"}, http_client=_KeyedHttpClient(_key()))
    client.memory.base_url = server.base_url
    observations = client.memory.v1.observations(store, profile)
    request = {"observations": [{"content": "Prefers window seats", "source": "api", "occurredAt": "2025-01-15T10:15:30Z"}]}
    for _attempt in range(2):
        observations.create(ObservationList.CreateObservationsRequest(request))

    assert [item.content for item in observations.list()] == ["Prefers window seats"]


def test_an_expired_key_is_free_again(backend, tmp_path, account, api, store):
    key = _key()
    with app_api(backend, tmp_path, account, idempotency_ttl_seconds=0) as expiring:
        assert _create(expiring, store, key, "ann@example.com").status_code == 202
        again = _create(expiring, store, key, "bob@example.com")
    assert again.status_code == 202, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert _profile_count(api, store) == 2


def test_an_answer_lost_after_the_commit_is_409_not_a_second_write(backend, tmp_path, account, api, store, monkeypatch):
    def process_died(*_args):
        raise RuntimeError("the process stopped before storing the answer")

    monkeypatch.setattr(idempotency, "settle", process_died)
    monkeypatch.setattr(idempotency, "ANSWER_WAIT_SECONDS", 0.2)
    key = _key()
    with app_api(backend, tmp_path, account) as inprocess:
        assert _create(inprocess, store, key, "ann@example.com").status_code == 202
        retry = _create(inprocess, store, key, "ann@example.com")
    assert retry.status_code == 409, retry.text
    assert retry.json()["code"] == 80031
    assert _profile_count(api, store) == 1


def test_a_write_without_a_key_is_untouched(api, store):
    assert api.post(f"/v1/Stores/{store}/Profiles", json=_profile_body("ann@example.com")).status_code == 202
    assert api.post(f"/v1/Stores/{store}/Profiles", json=_profile_body("bob@example.com")).status_code == 202
    assert _profile_count(api, store) == 2


def test_the_servers_openapi_shows_the_key_headers(api):
    operation = api.get("/openapi.json").json()["paths"]["/v1/Stores/{storeId}/Profiles"]["post"]
    names = {parameter["name"] for parameter in operation["parameters"] if parameter["in"] == "header"}
    assert {"Idempotency-Key", "I-Twilio-Idempotency-Token"} <= names
