"""CSV imports: creation and its checks, the signed upload URL, real-world CSV, the error
report, progress, listing, and the SDK."""

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from sqlalchemy import update

from tests.contract import assert_conforms
from tests.inprocess import FakeWallClock, app_api
from tests.jobs_support import (
    CONTACT,
    create_import,
    error_report,
    fetch_import,
    import_csv,
    mappings,
    upload,
    wait_import,
)


def profiles_by_email(api, store) -> dict:
    out = {}
    for profile_id in api.get(f"/v1/Stores/{store}/Profiles", params={"pageSize": 1000}).json()["profiles"]:
        traits = api.get(f"/v1/Stores/{store}/Profiles/{profile_id}").json()["traits"]
        out[traits["Contact"].get("email") or traits["Contact"].get("phone")] = traits
    return out


def add_loyalty_group(api, store):
    response = api.post(
        f"/v1/ControlPlane/Stores/{store}/TraitGroups",
        json={
            "displayName": "Loyalty",
            "traits": {
                "points": {"dataType": "NUMBER", "validationRule": {"ruleType": "NUMBER", "min": 0}},
                "vip": {"dataType": "BOOLEAN"},
                "tags": {"dataType": "ARRAY"},
                "tier": {"dataType": "STRING", "validationRule": {"ruleType": "STRING", "pattern": "^(gold|silver)$"}},
            },
        },
    )
    assert response.status_code == 202, response.text


def test_create_answers_201_with_an_id_and_a_signed_url(api, store):
    response = api.post(
        f"/v1/Stores/{store}/Profiles/Imports",
        json={"filename": "people.csv", "fileSize": 10, "columnMappings": mappings(CONTACT)},
    )
    assert response.status_code == 201, response.text
    assert_conforms(response)
    body = response.json()
    url = urlparse(body["url"])
    assert body["url"].startswith(f"{api.base_url}/v1/Uploads/{body['importId']}?")
    assert set(parse_qs(url.query)) == {"expires", "signature"}
    status = api.get(f"/v1/Stores/{store}/Profiles/Imports/{body['importId']}")
    assert status.status_code == 200
    assert_conforms(status)
    assert status.json()["status"] == "PENDING"
    assert status.json()["columnMappings"][2] == {"columnName": "first_name", "traitGroup": "Contact", "traitName": "firstName"}


@pytest.mark.parametrize(
    "column_mappings, problem",
    [
        (mappings({"email": "email"}), "columnMappings"),
        (mappings({"email": "email", "x": "firstName"}) + mappings({"y": "lastName"}, "Nope"), "unknown trait group 'Nope'"),
        (mappings({"email": "email", "x": "shoeSize"}), "defines no trait 'shoeSize'"),
        (mappings({"email": "email", "x": "firstName"}) + [{"columnName": "x", "traitGroup": "Contact", "traitName": "lastName"}], "mapped twice"),
        (mappings({"email": "email", "mail2": "email"}), "from two columns"),
        (mappings({"first": "firstName", "last": "lastName"}), "identifier"),
        (mappings({"email": "email", "x": "firstName"}) + [{"columnName": "y", "traitGroup": "Contact"}], "traitName"),
    ],
)
def test_column_mappings_are_checked_when_the_import_is_created(api, store, column_mappings, problem):
    response = api.post(
        f"/v1/Stores/{store}/Profiles/Imports", json={"filename": "p.csv", "fileSize": 10, "columnMappings": column_mappings}
    )
    assert response.status_code == 400, response.text
    assert_conforms(response)
    assert problem in response.json()["message"]
    assert api.get(f"/v1/Stores/{store}/Profiles/Imports").json()["imports"] == []


@pytest.mark.parametrize("size", [0, 100 * 1024 * 1024 + 1])
def test_file_size_is_one_byte_to_100_mib(api, store, size):
    response = api.post(
        f"/v1/Stores/{store}/Profiles/Imports", json={"filename": "p.csv", "fileSize": size, "columnMappings": mappings(CONTACT)}
    )
    assert response.status_code == 400


def test_real_world_csv(api, store):
    add_loyalty_group(api, store)
    data = (
        "\ufeffemail,phone,first_name,City,notes,points,vip,tags,tier\r\n"
        'ann@example.com,,Ann,"Paris, France","said ""hi""\r\non two lines",10,yes,a;b,gold\r\n'
        "\r\n"
        ",,NoId,Rome,,,,,\r\n"  # row 4: no identifier
        "bob@example.com,317-555-0100,Bob,Oslo,,1.5,no,,silver\r\n"
        "\r\n"
        "cy@example.com,,Cy,,,many,,,\r\n"  # row 7: points is not a number
        "dee@example.com,not-a-phone,Dee,,,,,,\r\n"  # row 8: phone invalid
        "eve@example.com,,Eve,,,-3,,,\r\n"  # row 9: points below min
        "fay@example.com,,Fay,,,,maybe,,\r\n"  # row 10: vip not a boolean
        "gus@example.com,,Gus,,,,,,bronze\r\n"  # row 11: tier fails its pattern
        'hal@example.com,,"Hal, Jr.",,,,,"[""x"", ""y""]",\r\n'
        "\r\n"
    ).encode()
    column_mappings = mappings({"email": "email", "phone": "phone", "first_name": "firstName", "City": "city"}) + mappings(
        {"points": "points", "vip": "vip", "tags": "tags", "tier": "tier"}, "Loyalty"
    )
    done = import_csv(api, store, data, column_mappings)
    assert done["status"] == "COMPLETED", done
    assert done["summary"] == {"errors": 6, "warnings": 1}
    assert done["progress"] == {"processedRows": 9, "totalRows": 9}
    assert done["filename"] == "profiles.csv" and done["fileSize"] == len(data)

    people = profiles_by_email(api, store)
    assert set(people) == {"ann@example.com", "bob@example.com", "hal@example.com"}
    assert people["ann@example.com"] == {
        "Contact": {"email": "ann@example.com", "firstName": "Ann", "city": "Paris, France"},
        "Loyalty": {"points": 10, "vip": True, "tags": ["a", "b"], "tier": "gold"},
    }
    assert people["bob@example.com"]["Contact"]["phone"] == "317-555-0100"
    assert people["bob@example.com"]["Loyalty"] == {"points": 1.5, "vip": False, "tier": "silver"}
    assert people["hal@example.com"]["Contact"]["firstName"] == "Hal, Jr."
    assert people["hal@example.com"]["Loyalty"]["tags"] == ["x", "y"]
    lookup = api.post(f"/v1/Stores/{store}/Profiles/Lookup", json={"idType": "phone", "value": "+13175550100"})
    assert len(lookup.json()["profiles"]) == 1

    report = error_report(api, store, done["importId"])
    assert report[0] == ["row", "column", "severity", "reason"]
    rows = {(int(r[0]), r[1]): (r[2], r[3]) for r in report[1:]}
    assert rows[(1, "notes")][0] == "warning"
    assert rows[(4, "email,phone")] == ("error", "The row has no identifier value: fill at least one of email,phone")
    assert rows[(7, "points")] == ("error", "Trait 'Loyalty.points' must be a number")
    assert rows[(8, "phone")][0] == "error" and "not a valid phone number" in rows[(8, "phone")][1]
    assert rows[(9, "points")][0] == "error" and "at least 0" in rows[(9, "points")][1]
    assert rows[(10, "vip")] == ("error", "Trait 'Loyalty.vip' must be true or false")
    assert rows[(11, "tier")][0] == "error" and "pattern" in rows[(11, "tier")][1]
    assert len(rows) == 7


def test_rows_go_through_identity_resolution_like_single_creates(api, store):
    before = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": "old@example.com", "city": "Bern"}}})
    existing = before.json()["id"]
    data = (
        "email,phone,first_name\n"
        "OLD@example.com,,Olga\n"  # updates the existing profile
        ",+13175550111,Pat\n"
        "pat@example.com,3175550111,\n"  # same phone: same profile, email added
        "old@example.com,+13175550111,\n"  # ties both: merge into the earlier one
    ).encode()
    done = import_csv(api, store, data, mappings({"email": "email", "phone": "phone", "first_name": "firstName"}))
    assert done["summary"] == {"errors": 0, "warnings": 0}
    assert api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"] == [existing]
    profile = api.get(f"/v1/Stores/{store}/Profiles/{existing}").json()
    assert profile["traits"]["Contact"]["firstName"] == "Pat"
    assert profile["traits"]["Contact"]["city"] == "Bern"
    identifiers = {i["idType"]: i["values"] for i in api.get(f"/v1/Stores/{store}/Profiles/{existing}/Identifiers").json()["identifiers"]}
    assert identifiers == {"email": ["old@example.com", "pat@example.com"], "phone": ["+13175550111"]}


def test_a_mapped_column_missing_from_the_header_fails_the_import(api, store):
    data = b"email,firstname\na@example.com,Ann\n"
    done = import_csv(api, store, data, mappings({"email": "email", "first_name": "firstName"}))
    assert done["status"] == "FAILED"
    assert "'first_name'" in done["failureReason"] and "header" in done["failureReason"]
    assert api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"] == []
    assert error_report(api, store, done["importId"])[1][:3] == ["1", "first_name", "error"]


@pytest.mark.parametrize(
    "data, problem",
    [(b"", "empty"), ("email,city\nb@example.com,K\xf6ln\n".encode("latin-1"), "UTF-8"), (b'email,city\n"a@x.com"z,A\n', "CSV")],
)
def test_unreadable_files_fail_before_anything_is_written(api, store, data, problem):
    data = data or b"\n"
    done = import_csv(api, store, data, mappings({"email": "email", "city": "city"}))
    assert done["status"] == "FAILED"
    assert problem in done["failureReason"]
    assert api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"] == []


def test_the_upload_url_is_bound_to_its_import_size_and_time(api, store):
    data = b"email,city\na@example.com,Oslo\n"
    import_id, url = create_import(api, store, data, mappings({"email": "email", "city": "city"}))
    other_id, _ = create_import(api, store, data, mappings({"email": "email", "city": "city"}))
    parsed = urlparse(url)
    query = parse_qs(parsed.query)

    assert upload(url.replace(import_id, other_id), data).status_code == 403
    later = {"expires": int(query["expires"][0]) + 60, "signature": query["signature"][0]}
    assert upload(f"{api.base_url}{parsed.path}?{urlencode(later)}", data).status_code == 403
    assert upload(f"{api.base_url}{parsed.path}", data).status_code == 403
    wrong_size = upload(url, data + b"b@example.com,Rome\n")
    assert wrong_size.status_code == 400 and "fileSize" in wrong_size.json()["message"]
    assert requests.put(url, data=iter([data, b"more"]), timeout=30).status_code == 400  # chunked, no Content-Length
    assert fetch_import(api, store, import_id)["status"] == "PENDING"

    assert upload(url, data).status_code == 200
    assert upload(url, data).status_code in (404, 409)  # one PUT per URL
    assert wait_import(api, store, import_id)["status"] == "COMPLETED"


def test_an_expired_upload_url_is_refused(backend, account, tmp_path):
    wall_clock = FakeWallClock()
    with app_api(backend, tmp_path, account, wall_clock=wall_clock, upload_url_ttl_seconds=60) as api:
        store = api.create_store()
        data = b"email\na@example.com\n"
        _, url = create_import(api, store, data, mappings({"email": "email", "x": "city"}))
        wall_clock.advance(61)
        response = api.session.put(url, content=data)
        assert response.status_code == 403 and "expired" in response.json()["message"]


def test_uploads_may_exceed_the_api_body_limit(api, store):
    notes = "n" * (900 * 1024)
    data = "".join(["email,city,notes\n"] + [f"p{n}@example.com,Oslo,{notes}\n" for n in range(13)]).encode()
    assert len(data) > 11 * 1024 * 1024
    done = import_csv(api, store, data, mappings({"email": "email", "city": "city"}))
    assert done["status"] == "COMPLETED", done
    assert done["progress"]["processedRows"] == 13
    assert done["summary"] == {"errors": 0, "warnings": 1}


def test_list_is_newest_first_and_paginated(api, store):
    created = [create_import(api, store, b"x", mappings({"email": "email", "city": "city"}))[0] for _ in range(3)]
    first = api.get(f"/v1/Stores/{store}/Profiles/Imports", params={"pageSize": 2})
    assert first.status_code == 200
    assert_conforms(first)
    assert first.json()["imports"] == created[::-1][:2]
    assert first.json()["meta"]["key"] == "imports"
    second = api.get(f"/v1/Stores/{store}/Profiles/Imports", params={"pageToken": first.json()["meta"]["nextToken"]})
    assert second.json()["imports"] == created[:1]
    assert "nextToken" not in second.json()["meta"]
    ascending = api.get(f"/v1/Stores/{store}/Profiles/Imports", params={"orderBy": "ASC", "pageSize": 1000}).json()
    assert ascending["imports"] == created


def test_imports_of_another_store_are_404(api, store):
    import_id, _ = create_import(api, store, b"x", mappings({"email": "email", "city": "city"}))
    other = api.create_store()
    assert api.get(f"/v1/Stores/{other}/Profiles/Imports/{import_id}").status_code == 404
    assert api.get(f"/v1/Stores/{other}/Profiles/Imports/{import_id}/Errors").status_code == 404


def test_the_python_sdk_creates_fetches_and_lists(twilio_client, api, store):
    from twilio.rest.memory.v1.import_ import ImportList

    data = b"email,first_name\nsdk@example.com,Sid\n"
    imports = twilio_client.memory.v1.imports(store)
    created = imports.create(
        ImportList.CreateProfilesImportV2Request(
            {"filename": "sdk.csv", "fileSize": len(data), "columnMappings": mappings({"email": "email", "first_name": "firstName"})}
        )
    )
    assert created.import_id.startswith("mem_import_")
    assert upload(created.url, data).status_code == 200
    wait_import(api, store, created.import_id)
    fetched = twilio_client.memory.v1.imports(store, created.import_id).fetch()
    assert fetched.status == "COMPLETED"
    assert fetched.filename == "sdk.csv"
    assert fetched.summary == {"errors": 0, "warnings": 0}
    assert fetched.created_at.tzinfo is not None
    assert [i for i in imports.list()] == [created.import_id]


def test_deleting_a_store_deletes_its_unprocessed_uploads(backend, tmp_path):
    """No worker runs here (and the database is the test's own, out of the session worker's
    reach), so the uploaded file waits; deleting its store must not leave it behind."""
    from convmem.accounts.service import create_account
    from tests.conftest import Api, make_backend, start_server, stop_server

    own, cleanup = make_backend(backend.name, tmp_path / "db")
    server = start_server(own, tmp_path, extra_env={"CONVMEM_EMBEDDED_WORKER": "false"})
    try:
        with own.db.writing() as session:
            api = Api(server.base_url, create_account(session, "uploads"))
        kept, doomed = api.create_store(), api.create_store()
        data = b"email,city\nu@example.com,Oslo\n"
        for store in (kept, doomed):
            _, url = create_import(api, store, data, mappings({"email": "email", "city": "city"}))
            assert upload(url, data).status_code == 200
        uploads = tmp_path / "uploads"
        assert {path.parts[-3] for path in uploads.rglob("*.csv")} == {kept, doomed}

        assert api.delete(f"/v1/ControlPlane/Stores/{doomed}").status_code == 202
        assert {path.parts[-3] for path in uploads.rglob("*.csv")} == {kept}
        assert list(uploads.glob(f"*/{doomed}/*")) == [], "the import's folder goes too"
    finally:
        stop_server(server)
        cleanup()


def test_a_second_put_racing_its_import_is_409_and_leaves_no_file(backend, account, tmp_path, monkeypatch):
    """The second PUT finds the import waiting, then its job reads the first file, finishes and
    deletes it while the second body streams in: the second file must not stay behind."""
    from convmem.database.tables import Import
    from convmem.imports import service

    awaiting = service.awaiting_upload

    def then_the_job_finishes(session, import_sid):
        imported = awaiting(session, import_sid)
        if imported is not None:
            for path in (tmp_path / "uploads").rglob("*.csv"):
                path.unlink()
            with backend.db.writing() as other:
                other.execute(update(Import).where(Import.sid == import_sid).values(status="COMPLETED"))
        return imported

    with app_api(backend, tmp_path, account) as api:
        store = api.create_store()
        data = b"email,city\na@example.com,Oslo\n"
        _, url = create_import(api, store, data, mappings({"email": "email", "city": "city"}))
        assert api.session.put(url, content=data).status_code == 200
        monkeypatch.setattr(service, "awaiting_upload", then_the_job_finishes)
        second = api.session.put(url, content=data)
        assert second.status_code == 409, second.text
        assert list((tmp_path / "uploads").rglob("*.csv")) == []
