"""Data mappings, driven through the official twilio SDK and checked against Twilio's spec."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from twilio.base.exceptions import TwilioRestException
from twilio.rest.memory.v1.data_mapping import DataMappingList

from convmem.accounts.service import create_account
from convmem.database.tables import DataMapping
from convmem.web.errors import Code
from tests.conftest import Api
from tests.contract import assert_conforms
from tests.dataset_helpers import csv_dataset
from tests.jobs_support import upload, wait_import
from tests.test_control_plane_stores import assert_error

UNKNOWN_DATASET = "tdi_dataset_01jx0000000000000000000000"


def mappings_path(store: str) -> str:
    return f"/v1/ControlPlane/Stores/{store}/DataMappings"


def ingress(name: str, columns=("email", "first"), mappings=None, **extra) -> dict:
    mappings = mappings or [
        {"expression": "email", "traitGroup": "Contact", "traitName": "email"},
        {"expression": "first", "traitGroup": "Contact", "traitName": "firstName"},
    ]
    return {
        "displayName": name,
        "mappingFrom": {"type": "INGRESS", "columns": list(columns)},
        "mappingTo": {"type": "TRAITS", "mappings": mappings},
    } | extra


def create(api, store: str, body: dict) -> str:
    response = api.post(mappings_path(store), json=body)
    assert response.status_code == 202, response.text
    operation = api.get(response.headers["Location"].replace(api.base_url, "")).json()
    assert operation["status"] == "COMPLETED", operation
    return operation["result"]["id"]


def test_the_five_operations_through_the_sdk(twilio_client, store, server):
    mem = twilio_client.memory.v1
    created = mem.data_mappings(store).create(
        DataMappingList.CreateDataMappingInput(ingress("crm-export", description="The CRM's nightly CSV"))
    )
    assert created.message == "Data mapping creation request accepted for processing."
    operation = mem.operations(created.status_url.rsplit("/", 1)[1]).fetch()
    assert operation.status == "COMPLETED"
    mapping_id = operation.result["id"]
    assert mapping_id.startswith("mem_datamapping_")
    assert operation.result_url == f"{server.base_url}{mappings_path(store)}/{mapping_id}"

    fetched = mem.data_mappings(store, mapping_id).fetch()
    assert (fetched.id, fetched.display_name, fetched.description) == (mapping_id, "crm-export", "The CRM's nightly CSV")
    assert fetched.is_enabled is True and fetched.version == 1
    assert fetched.mapping_from == {"type": "INGRESS", "columns": ["email", "first"]}
    assert fetched.mapping_to["mappings"][1] == {"expression": "first", "traitGroup": "Contact", "traitName": "firstName"}
    assert fetched.created_at is not None and fetched.updated_at is not None

    etag = mem.data_mappings(store, mapping_id).fetch_with_http_info().headers["etag"]
    new_to = {"type": "TRAITS", "mappings": [{"expression": "first", "traitGroup": "Contact", "traitName": "lastName"}]}
    patched = mem.data_mappings(store, mapping_id).patch(
        DataMappingList.DataMappingCore({"mappingTo": new_to, "isEnabled": False}), if_match=etag
    )
    assert patched.message == "Data mapping update request accepted for processing."
    after = mem.data_mappings(store, mapping_id).fetch()
    # mappingTo is replaced whole, not merged item by item.
    assert after.mapping_to == new_to
    assert after.is_enabled is False and after.version == 2
    try:
        mem.data_mappings(store, mapping_id).patch(DataMappingList.DataMappingCore({"description": "x"}), if_match=etag)
        raise AssertionError("a stale If-Match was accepted")
    except TwilioRestException as error:
        assert error.status == 412

    assert [m.id for m in mem.data_mappings(store).list()] == [mapping_id]
    assert [m.id for m in mem.data_mappings(store).list(type="INGRESS", order_by="ASC")] == [mapping_id]
    assert mem.data_mappings(store).list(type="DATASET_WAREHOUSE") == []
    deleted = mem.data_mappings(store, mapping_id).delete()
    assert deleted["message"] == "Data mapping deletion request accepted for processing."
    try:
        mem.data_mappings(store, mapping_id).fetch()
        raise AssertionError("a deleted mapping was found")
    except TwilioRestException as error:
        assert error.status == 404


def test_answers_conform_to_the_spec(api, store, server):
    dataset = csv_dataset(api, server, store)
    response = api.post(mappings_path(store), json=ingress("conforming"))
    assert response.status_code == 202
    assert_conforms(response)
    assert response.headers["Operation-Id"] and response.headers["Retry-After"] == "1"
    mapping_id = api.get(response.headers["Location"].replace(api.base_url, "")).json()["result"]["id"]
    warehouse = {
        "displayName": "warehouse.orders",
        "mappingFrom": {"type": "DATASET_WAREHOUSE", "datasetId": dataset},
        "mappingTo": {"type": "TRAITS", "mappings": [{"expression": "primary_email", "traitGroup": "Contact", "traitName": "email"}]},
    }
    assert_conforms(api.post(mappings_path(store), json=warehouse))
    for response in (
        api.get(mappings_path(store)),
        api.get(mappings_path(store), params={"type": "DATASET_WAREHOUSE", "orderBy": "ASC"}),
        api.get(f"{mappings_path(store)}/{mapping_id}"),
        api.patch(f"{mappings_path(store)}/{mapping_id}", json={"description": "changed"}),
        api.delete(f"{mappings_path(store)}/{mapping_id}"),
    ):
        assert response.status_code in (200, 202), response.text
        assert_conforms(response)


def test_list_pages_and_filters_by_type(api, store, server):
    dataset = csv_dataset(api, server, store)
    ids = [create(api, store, ingress(f"in{i}")) for i in range(3)]
    dataset_ids = [
        create(
            api,
            store,
            {
                "displayName": f"crm{i}",
                "mappingFrom": {"type": "DATASET_CLOUDAPP", "datasetId": dataset},
                "mappingTo": {"type": "TRAITS", "mappings": [{"expression": "mail", "traitGroup": "Contact", "traitName": "email"}]},
            },
        )
        for i in range(2)
    ]
    first = api.get(mappings_path(store), params={"pageSize": 2, "orderBy": "ASC", "type": "INGRESS"}).json()
    assert first["meta"]["key"] == "dataMappings" and first["meta"]["pageSize"] == 2
    second = api.get(mappings_path(store), params={"pageToken": first["meta"]["nextToken"]}).json()
    assert [m["id"] for m in first["dataMappings"] + second["dataMappings"]] == ids
    assert "nextToken" not in second["meta"]
    everything, token = [], None
    while True:
        page = api.get(mappings_path(store), params={"pageToken": token} if token else {"pageSize": 2}).json()
        everything += [m["id"] for m in page["dataMappings"]]
        if not (token := page["meta"].get("nextToken")):
            break
    assert everything == (ids + dataset_ids)[::-1]
    cloud = api.get(mappings_path(store), params={"type": "DATASET_CLOUDAPP"}).json()["dataMappings"]
    assert [m["id"] for m in cloud] == dataset_ids[::-1]  # DESC by default
    assert all(m["mappingFrom"] == {"type": "DATASET_CLOUDAPP", "datasetId": dataset} for m in cloud)
    assert_error(api.get(mappings_path(store), params={"type": "CSV"}), 400, Code.BAD_REQUEST, "type")


def test_names_are_unique_per_store(api, store):
    first = create(api, store, ingress("crm"))
    assert_error(api.post(mappings_path(store), json=ingress("crm")), 409, Code.CONFLICT, "crm", "already exists")
    other = create(api, store, ingress("other"))
    response = api.patch(f"{mappings_path(store)}/{other}", json={"displayName": "crm"})
    assert_error(response, 400, Code.DUPLICATE_NAME, "already exists")
    # Renaming to its own name, or to a free one, is fine; so is the same name in another store.
    assert api.patch(f"{mappings_path(store)}/{first}", json={"displayName": "crm"}).status_code == 202
    assert api.get(f"{mappings_path(store)}/{first}").json()["version"] == 1
    create(api, api.create_store(), ingress("crm"))


def test_every_mapped_trait_must_exist_once_and_read_a_listed_column(api, store):
    def refused(mappings, status, code, *fragments, columns=("email", "first")):
        assert_error(api.post(mappings_path(store), json=ingress("bad", columns, mappings)), status, code, *fragments)

    refused([{"expression": "email", "traitGroup": "Nope", "traitName": "email"}], 400, Code.UNKNOWN_TRAIT_GROUP, "mappings[0]", "Nope")
    refused(
        [
            {"expression": "email", "traitGroup": "Contact", "traitName": "email"},
            {"expression": "first", "traitGroup": "Contact", "traitName": "shoeSize"},
        ],
        400,
        Code.UNKNOWN_TRAIT,
        "mappings[1]",
        "shoeSize",
    )
    refused(
        [
            {"expression": "email", "traitGroup": "Contact", "traitName": "email"},
            {"expression": "first", "traitGroup": "Contact", "traitName": "email"},
        ],
        400,
        Code.BAD_REQUEST,
        "mapped twice",
    )
    refused([{"expression": "mail", "traitGroup": "Contact", "traitName": "email"}], 400, Code.BAD_REQUEST, "'mail'", "columns")
    assert api.get(mappings_path(store)).json()["dataMappings"] == []


def test_request_shapes_are_checked(api, store):
    body = ingress("shapes")
    cases = [
        (body | {"displayName": "1starts-with-digit"}, "displayName"),
        (body | {"unknown": True}, "unknown"),
        (body | {"mappingFrom": {"type": "INGRESS", "columns": []}}, "columns"),
        (body | {"mappingFrom": {"type": "DATASET_WAREHOUSE", "datasetId": "tdi_dataset_x"}}, "datasetId"),
        (body | {"mappingFrom": {"type": "INGRESS", "columns": ["a"], "datasetId": UNKNOWN_DATASET}}, "datasetId"),
        (body | {"mappingFrom": {"type": "DATASET_WAREHOUSE", "datasetId": UNKNOWN_DATASET}}, "no dataset"),
        (body | {"mappingTo": {"mappings": body["mappingTo"]["mappings"]}}, "mappingTo"),
        (body | {"mappingTo": {"type": "TRAITS", "mappings": []}}, "mappings"),
        # PostgreSQL text cannot hold U+0000: refused on both backends before it reaches the database.
        (body | {"mappingFrom": {"type": "INGRESS", "columns": ["e\x00mail"]}}, "NUL"),
        (body | {"description": "a\x00b"}, "NUL"),
    ]
    for sent, fragment in cases:
        assert_error(api.post(mappings_path(store), json=sent), 400, Code.BAD_REQUEST, fragment)
    mapping_id = create(api, store, body)
    item = f"{mappings_path(store)}/{mapping_id}"
    assert_error(api.patch(item, json={"mappingFrom": {"type": "INGRESS", "columns": ["x"]}}), 400, Code.BAD_REQUEST, "mappingFrom")
    for field in ("displayName", "isEnabled", "mappingTo"):
        assert_error(api.patch(item, json={field: None}), 400, Code.BAD_REQUEST, field)
    assert_error(api.get(f"{mappings_path(store)}/mem_datamapping_x"), 400, Code.INVALID_ID, "dataMappingId")
    assert_error(api.get(f"{mappings_path(store)}/mem_datamapping_01jx0000000000000000000000"), 404, Code.NOT_FOUND)


def test_patch_checks_the_new_mappings_against_the_stored_source(api, store):
    mapping_id = create(api, store, ingress("patchable"))
    item = f"{mappings_path(store)}/{mapping_id}"
    unknown_column = {"type": "TRAITS", "mappings": [{"expression": "phone", "traitGroup": "Contact", "traitName": "phone"}]}
    assert_error(api.patch(item, json={"mappingTo": unknown_column}), 400, Code.BAD_REQUEST, "'phone'", "mappingFrom.columns")
    # An empty body, or values equal to the current ones, change nothing and keep the version.
    for body in ({}, {"isEnabled": True}, None):
        response = api.patch(item, json=body) if body is not None else api.patch(item)
        assert response.status_code == 202, response.text
    before = api.get(item)
    assert before.json()["version"] == 1
    assert api.patch(item, json={"description": "now described"}).status_code == 202
    fetched = api.get(item)
    assert fetched.json()["description"] == "now described" and fetched.json()["version"] == 2
    assert fetched.headers["ETag"] != before.headers["ETag"]


def test_mappings_go_with_their_store_and_other_accounts_cannot_see_them(api, store, server, backend):
    mapping_id = create(api, store, ingress("doomed"))
    with backend.db.writing() as session:
        stranger = Api(server.base_url, create_account(session, "stranger"))
    assert_error(stranger.get(f"{mappings_path(store)}/{mapping_id}"), 404, Code.NOT_FOUND)
    assert_error(stranger.post(mappings_path(store), json=ingress("x")), 404, Code.NOT_FOUND)
    assert api.delete(f"/v1/ControlPlane/Stores/{store}").status_code == 202
    with backend.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(DataMapping).where(DataMapping.sid == mapping_id)) == 0


def test_an_import_takes_its_column_mappings_from_an_ingress_mapping(api, store):
    mapping_id = create(
        api,
        store,
        ingress(
            "crm-csv",
            columns=("E-Mail", "Given name", "unused"),
            mappings=[
                {"expression": "E-Mail", "traitGroup": "Contact", "traitName": "email"},
                {"expression": "Given name", "traitGroup": "Contact", "traitName": "firstName"},
            ],
        ),
    )
    data = b"E-Mail,Given name,unused\nada@example.com,Ada,x\nnot-an-email,Bad,y\n"
    response = api.post(
        f"/v1/Stores/{store}/Profiles/Imports", json={"filename": "crm.csv", "fileSize": len(data), "dataMappingId": mapping_id}
    )
    assert response.status_code == 201, response.text
    import_id = response.json()["importId"]
    assert upload(response.json()["url"], data).status_code == 200
    finished = wait_import(api, store, import_id)
    assert finished["status"] == "COMPLETED" and finished["summary"]["errors"] == 1
    assert finished["dataMappingId"] == mapping_id
    assert finished["columnMappings"] == [
        {"columnName": "E-Mail", "traitGroup": "Contact", "traitName": "email"},
        {"columnName": "Given name", "traitGroup": "Contact", "traitName": "firstName"},
    ]
    found = api.post(f"/v1/Stores/{store}/Profiles/Lookup", json={"idType": "email", "value": "ada@example.com"}).json()
    (profile,) = found["profiles"]
    assert api.get(f"/v1/Stores/{store}/Profiles/{profile}").json()["traits"]["Contact"] == {"email": "ada@example.com", "firstName": "Ada"}


def test_an_import_refuses_a_mapping_it_cannot_use(api, store, server):
    def refused(body: dict, *fragments):
        response = api.post(f"/v1/Stores/{store}/Profiles/Imports", json={"filename": "p.csv", "fileSize": 10} | body)
        assert_error(response, 400, Code.BAD_REQUEST, *fragments)

    names_only = create(
        api, store, ingress("names", columns=("first",), mappings=[{"expression": "first", "traitGroup": "Contact", "traitName": "firstName"}])
    )
    disabled = create(api, store, ingress("off", isEnabled=False))
    warehouse = create(
        api,
        store,
        {
            "displayName": "warehouse",
            "mappingFrom": {"type": "DATASET_WAREHOUSE", "datasetId": csv_dataset(api, server, store)},
            "mappingTo": {"type": "TRAITS", "mappings": [{"expression": "mail", "traitGroup": "Contact", "traitName": "email"}]},
        },
    )
    refused({"dataMappingId": warehouse}, "INGRESS")
    refused({"dataMappingId": disabled}, "disabled")
    refused({"dataMappingId": "mem_datamapping_01jx0000000000000000000000"}, "no data mapping")
    refused({"dataMappingId": create(api, api.create_store(), ingress("elsewhere"))}, "no data mapping")
    refused({}, "either 'columnMappings' or 'dataMappingId'")
    both = {"dataMappingId": disabled, "columnMappings": [{"columnName": "e", "traitGroup": "Contact", "traitName": "email"}] * 2}
    refused(both, "not both")
    response = api.post(
        f"/v1/Stores/{store}/Profiles/Imports", json={"filename": "p.csv", "fileSize": 10, "dataMappingId": names_only}
    )
    assert_error(response, 400, Code.NO_IDENTIFIER, f"data mapping {names_only}", "identifier")
    assert api.get(f"/v1/Stores/{store}/Profiles/Imports").json()["imports"] == []


def test_a_trait_group_or_trait_a_mapping_writes_cannot_be_deleted(api, store):
    groups = f"/v1/ControlPlane/Stores/{store}/TraitGroups"
    created = api.post(groups, json={"displayName": "Loyalty", "traits": {"points": {"dataType": "NUMBER"}, "tier": {"dataType": "STRING"}}})
    assert created.status_code == 202, created.text
    to_points = [{"expression": "pts", "traitGroup": "Loyalty", "traitName": "points"}]
    mapping_id = create(api, store, ingress("loyalty", columns=("pts",), mappings=to_points))
    assert_error(api.delete(f"{groups}/Loyalty"), 409, Code.CONFLICT, "'loyalty'", "change or delete")
    patch = api.patch(f"{groups}/Loyalty", json={"traits": {"points": {"dataType": ""}}})
    assert_error(patch, 400, Code.BAD_REQUEST, "'loyalty'", "being deleted")
    # A trait no mapping writes goes as before; once the mapping is gone, so can the group.
    assert api.patch(f"{groups}/Loyalty", json={"traits": {"tier": {"dataType": ""}}}).status_code == 202
    assert api.delete(f"{mappings_path(store)}/{mapping_id}").status_code == 202
    assert api.delete(f"{groups}/Loyalty").status_code == 202


def test_concurrent_creates_of_one_name_make_one_mapping(api, store):
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(lambda _: api.post(mappings_path(store), json=ingress("racy")).status_code, range(4)))
    assert statuses == [202, 409, 409, 409]
    assert [m["displayName"] for m in api.get(mappings_path(store)).json()["dataMappings"]] == ["racy"]
