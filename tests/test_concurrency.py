"""Many clients creating and patching overlapping profiles at once, against a real server.

The end state must be one a serial order could give: identifier groups equal the connected
components of the requests, every client's last write of its own trait survives on the
canonical profile, and no request fails.
"""

import random
import threading
import uuid

import pytest
import requests
from sqlalchemy import select

from convmem.database.tables import Store, TraitGroup
from tests.conftest import Api, start_server, stop_server
from tests.test_resolution_properties import components

CLIENTS = 12
REQUESTS_PER_CLIENT = 12
EMAILS = [f"c{i}@example.com" for i in range(10)]
PHONES = [f"+1317555010{i}" for i in range(10)]


def add_probe_group(db, store_sid: str) -> None:
    with db.writing() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store_sid))
        traits = {f"c{i}": {"dataType": "NUMBER"} for i in range(CLIENTS)}
        session.add(TraitGroup(store_id=store_pk, name="Probe", traits=traits, version=1))


def send(api: Api, method: str, path: str, body: dict) -> requests.Response:
    """Send, following 308s: a concurrent merge may move the profile between attempts."""
    for _ in range(10):
        response = api.request(method, path, json=body)
        if response.status_code != 308:
            return response
        path = response.headers["Location"].replace(api.base_url, "")
    raise AssertionError("redirect loop")


def run_clients(api: Api, store: str, seed: int):
    writes: list[tuple[int, int, list[str]]] = []  # (client, value, identifiers of the write's group)
    creates: list[list[tuple[str, str]]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(number: int):
        rng = random.Random(seed * 1000 + number)
        session_api = Api(api.base_url, api.credentials)
        for k in range(REQUESTS_PER_CLIENT):
            ids = []
            if rng.random() < 0.8:
                ids.append(("email", rng.choice(EMAILS)))
            if not ids or rng.random() < 0.6:
                ids.append(("phone", rng.choice(PHONES)))
            traits = {"Contact": dict(ids), "Probe": {f"c{number}": 2 * k}}
            created = send(session_api, "POST", f"/v1/Stores/{store}/Profiles", {"traits": traits})
            if created.status_code != 202:
                with lock:
                    failures.append(f"create {created.status_code} {created.text}")
                continue
            patched = send(
                session_api,
                "PATCH",
                f"/v1/Stores/{store}/Profiles/{created.json()['id']}",
                {"traits": {"Probe": {f"c{number}": 2 * k + 1}}},
            )
            with lock:
                creates.append(ids)
                if patched.status_code == 202:
                    writes.append((number, 2 * k + 1, [v for _, v in ids]))
                else:
                    failures.append(f"patch {patched.status_code} {patched.text}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return creates, writes, failures


def check_end_state(api: Api, store: str, creates, writes) -> None:
    expected_groups = components(creates)
    canonical_of_value: dict[str, str] = {}
    for group in expected_groups:
        value = next(iter(group))
        id_type = "email" if "@" in value else "phone"
        found = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {id_type: value}}}).json()["id"]
        for member in group:
            canonical_of_value[member] = found

    listed = api.get(f"/v1/Stores/{store}/Profiles", params={"pageSize": 1000}).json()["profiles"]
    assert sorted(listed) == sorted(set(canonical_of_value.values())), "duplicate or missing profiles"

    last_write: dict[tuple[str, int], int] = {}
    for client, value, ids in writes:
        key = (canonical_of_value[ids[0]], client)
        last_write[key] = max(value, last_write.get(key, -1))
    for (profile, client), value in last_write.items():
        probe = api.get(f"/v1/Stores/{store}/Profiles/{profile}").json()["traits"]["Probe"]
        assert probe[f"c{client}"] == value, f"client {client}'s last write was lost on {profile}"


def test_concurrent_clients_end_in_a_serial_state(server, api, store):
    add_probe_group(server.backend.db, store)
    creates, writes, failures = run_clients(api, store, seed=1)
    assert failures == []
    assert len(creates) == CLIENTS * REQUESTS_PER_CLIENT
    check_end_state(api, store, creates, writes)


@pytest.fixture
def multi_worker_server(backend, tmp_path):
    server = start_server(backend, tmp_path, workers=3, extra_env={"CONVMEM_EMBEDDED_WORKER": "false"})
    yield server
    stop_server(server)


def test_concurrent_clients_across_server_processes(multi_worker_server, account):
    api = Api(multi_worker_server.base_url, account)
    store = api.create_store(f"multi-{uuid.uuid4().hex[:8]}")
    add_probe_group(multi_worker_server.backend.db, store)
    creates, writes, failures = run_clients(api, store, seed=2)
    assert failures == []
    check_end_state(api, store, creates, writes)
