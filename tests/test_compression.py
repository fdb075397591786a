"""Compressed request bodies (Content-Encoding) and gzip answers (Accept-Encoding)."""

import gzip
import json
import zlib

import brotli
import ncompress
import pytest

from tests.contract import assert_conforms
from tests.test_memory_observations import base, insert_profile, listed, observation

ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "compress": ncompress.compress,
    "gzip, br": lambda data: brotli.compress(gzip.compress(data)),
}


def post_encoded(api, path: str, body: dict | bytes, encoding: str, encode=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    data = (encode or ENCODERS[encoding])(raw)
    return api.post(path, data=data, headers={"Content-Type": "application/json", "Content-Encoding": encoding})


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_a_compressed_observation_batch_is_stored_as_sent(api, backend, store, encoding):
    profile = insert_profile(backend, store)
    items = [observation(f"Note {n}: prefers email, café ☕") for n in range(3)]
    response = post_encoded(api, base(store, profile), {"observations": items}, encoding)
    assert response.status_code == 202, response.text
    assert_conforms(response)
    assert sorted(item["content"] for item in listed(api, store, profile)) == sorted(item["content"] for item in items)


def test_a_compressed_profile_create_resolves_like_a_plain_one(api, store):
    body = {"traits": {"Contact": {"email": "zip@example.com", "firstName": "Zip"}}}
    compressed = post_encoded(api, f"/v1/Stores/{store}/Profiles", body, "gzip")
    assert compressed.status_code == 202, compressed.text
    plain = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": "ZIP@example.com"}}})
    assert plain.json()["id"] == compressed.json()["id"]


def test_an_unknown_encoding_is_400_and_writes_nothing(api, backend, store):
    """The contract lists no 415 for the operations that take Content-Encoding: 400 it is."""
    profile = insert_profile(backend, store)
    response = post_encoded(api, base(store, profile), {"observations": [observation()]}, "zstd", encode=lambda data: data)
    assert response.status_code == 400
    assert response.json() == {
        "code": 20001,
        "message": "Content-Encoding 'zstd' is not supported; send the body uncompressed or as gzip, deflate, br or compress",
        "more_info": "https://www.twilio.com/docs/api/errors/20001",
        "status": 400,
    }
    assert listed(api, store, profile) == []


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_a_body_that_is_not_what_its_encoding_says_is_400(api, backend, store, encoding):
    profile = insert_profile(backend, store)
    payload = json.dumps({"observations": [observation()]}).encode()
    truncated = post_encoded(api, base(store, profile), payload, encoding, encode=lambda data: ENCODERS[encoding](data)[:-8])
    garbage = post_encoded(api, base(store, profile), payload, encoding, encode=lambda data: data)
    for response in (truncated, garbage):
        assert response.status_code == 400, response.text
        assert response.json()["code"] == 20001 and f"not valid {encoding} data" in response.json()["message"]
    assert listed(api, store, profile) == []


@pytest.mark.parametrize("encoding", ["gzip", "br", "compress"])
def test_a_small_body_that_expands_past_the_limit_is_413(api, backend, store, encoding):
    profile = insert_profile(backend, store)
    padding = " " * (11 * 1024 * 1024)  # JSON allows the whitespace; the limit is 10 MiB
    payload = ('{"observations": [%s]%s}' % (json.dumps(observation()), padding)).encode()
    compressed = ENCODERS[encoding](payload)
    assert len(compressed) < 100 * 1024
    response = post_encoded(api, base(store, profile), compressed, encoding, encode=lambda data: data)
    assert response.status_code == 413
    assert response.json()["code"] == 20413 and "once decompressed" in response.json()["message"]
    assert listed(api, store, profile) == []


def test_large_answers_are_gzipped_for_clients_that_accept_gzip(api, backend, store):
    profile = insert_profile(backend, store)
    api.post(base(store, profile), json={"observations": [observation(f"Observation {n} " * 20) for n in range(10)]})
    zipped = api.get(base(store, profile), headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert_conforms(zipped)
    plain = api.get(base(store, profile), headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.json() == plain.json()
    small = api.get(f"/v1/ControlPlane/Stores/{store}", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers, "answers under 1 KiB are not worth compressing"
