"""Mapping suggestions: the pure suggester, and the ``…/DataMappingSuggestions`` extension endpoint."""

import jsonschema
import pytest

from convmem.datamappings.suggestions import (
    SourceColumn,
    columns_from_csv,
    sample_kind,
    suggest,
    words,
)
from convmem.traitgroups.schemas import DEFAULT_CONTACT_GROUP
from convmem.web.errors import Code
from tests.contract import official_spec
from tests.test_control_plane_stores import assert_error

SCHEMA = {
    "Contact": DEFAULT_CONTACT_GROUP["traits"],
    "Loyalty": {
        "points": {"dataType": "NUMBER"},
        "vip": {"dataType": "BOOLEAN"},
        "memberSince": {"dataType": "STRING", "description": "Date the customer joined"},
    },
}
CRM_CSV = (
    "primary_email,Mobile,Given Name,surname,ZIP,loyalty_points,is_vip,joined,notes,backup_contact\n"
    "ann@example.com,(317) 555-0100,Ann,Lee,46201,120,yes,2024-01-05,likes trains,ann@home.example\n"
    "bob@example.com,+44 20 7946 0958,Bob,Ray,02139,5,no,2023-11-30,,bob@home.example\n"
)


def pairs(suggestions) -> dict[str, str]:
    return {s.expression: f"{s.trait_group}.{s.trait_name}" for s in suggestions}


def test_names_samples_and_types_pick_the_trait_of_each_column():
    found = suggest(columns_from_csv(CRM_CSV), SCHEMA)
    assert pairs(found) == {
        "primary_email": "Contact.email",
        "Mobile": "Contact.phone",
        "Given Name": "Contact.firstName",
        "surname": "Contact.lastName",
        "ZIP": "Contact.postalCode",
        "loyalty_points": "Loyalty.points",
        "is_vip": "Loyalty.vip",
        "joined": "Loyalty.memberSince",  # by the trait's description
    }
    confidence = {s.expression: s.confidence for s in found}
    assert confidence["primary_email"] == 1.0 and 0.6 <= confidence["is_vip"] < 1.0
    assert [s.confidence for s in found] == sorted((s.confidence for s in found), reverse=True)
    email = next(s for s in found if s.expression == "primary_email")
    assert email.rationale == (
        "Column 'primary_email' -> Contact.email: its name is 'primary email'; 2/2 sample values are email addresses."
    )


def test_each_column_feeds_one_trait_and_each_trait_takes_one_column():
    # Both columns hold emails: the one whose name says so wins, the other is left unmapped.
    found = suggest(columns_from_csv(CRM_CSV), SCHEMA)
    assert "backup_contact" not in pairs(found)
    assert list(pairs(found).values()).count("Contact.email") == 1


def test_sample_values_overrule_a_misleading_name():
    columns = [
        SourceColumn("first_name", samples=("ann@example.com", "bob@example.com")),
        SourceColumn("email", samples=("Ann", "Bob")),
        SourceColumn("points", samples=("gold", "silver")),
    ]
    found = pairs(suggest(columns, SCHEMA))
    # Emails go to the email trait whatever the column is called; names that are not emails never do.
    assert found == {"first_name": "Contact.email"}


def test_a_declared_type_must_fit_the_trait():
    assert pairs(suggest([SourceColumn("loyalty_points", "STRING")], SCHEMA)) == {}
    assert pairs(suggest([SourceColumn("loyalty_points", "NUMBER")], SCHEMA)) == {"loyalty_points": "Loyalty.points"}
    assert pairs(suggest([SourceColumn("vip", "NUMBER")], SCHEMA)) == {}


def test_without_samples_the_name_decides_and_far_names_are_left_out():
    found = suggest([SourceColumn("fname"), SourceColumn("order_id"), SourceColumn("comment")], SCHEMA)
    assert pairs(found) == {"fname": "Contact.firstName"}
    assert "no sample values" in found[0].rationale and found[0].confidence == 0.9
    assert suggest([SourceColumn("fname")], SCHEMA, min_confidence=0.95) == []


@pytest.mark.parametrize(
    "samples, kind",
    [
        (("a@example.com", "b@example.org", ""), "EMAIL"),
        (("+1 317 555 0100", "(317) 555-0101"), "PHONE"),
        (("1234567", "7654321"), "NUMBER"),  # digits alone are not a phone number
        (("2024-01-05", "2023-11-30T10:00:00Z"), "DATE"),
        (("yes", "no", "TRUE"), "BOOLEAN"),
        ((1, 2.5), "NUMBER"),
        ((["a", "b"],), "ARRAY"),
        (("Ann", "Bob"), "STRING"),
        ((), None),
    ],
)
def test_sample_kinds(samples, kind):
    assert sample_kind(samples).kind == kind


def test_column_names_are_cut_into_words():
    assert [words(n) for n in ("primary_email", "PrimaryEmail", "primary-email", "postalCode", "HTTPStatus")] == [
        "primary email",
        "primary email",
        "primary email",
        "postal code",
        "http status",
    ]


def suggestions_path(store: str) -> str:
    return f"/v1/ControlPlane/Stores/{store}/DataMappingSuggestions"


def test_the_endpoint_suggests_from_a_csv_sample_and_its_answer_makes_a_mapping(api, store):
    response = api.post(suggestions_path(store), json={"csvSample": CRM_CSV})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mappingFrom"] == {"type": "INGRESS", "columns": [c.name for c in columns_from_csv(CRM_CSV)]}
    suggested = {m["mapping"]["expression"]: m for m in body["mappingTo"]["mappings"]}
    assert suggested["primary_email"]["mapping"] == {"expression": "primary_email", "traitGroup": "Contact", "traitName": "email"}
    assert 0 < suggested["Given Name"]["confidence"] <= 1 and suggested["Given Name"]["rationale"]
    assert set(body["unmappedColumns"]) == {"loyalty_points", "is_vip", "joined", "notes", "backup_contact"}
    create = {
        "displayName": "suggested",
        "mappingFrom": body["mappingFrom"],
        "mappingTo": {"type": "TRAITS", "mappings": [m["mapping"] for m in body["mappingTo"]["mappings"]]},
    }
    assert api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings", json=create).status_code == 202


def test_the_endpoint_takes_described_columns_and_checks_its_body(api, store):
    described = {"columns": [{"name": "cell", "type": "STRING", "samples": ["+13175550100"]}, {"name": "misc"}]}
    body = api.post(suggestions_path(store), json=described).json()
    assert [m["mapping"]["traitName"] for m in body["mappingTo"]["mappings"]] == ["phone"]
    assert body["unmappedColumns"] == ["misc"]
    refused = [
        ({}, "exactly one of"),
        ({"csvSample": CRM_CSV, "columns": described["columns"]}, "exactly one of"),
        ({"csvSample": "a,a\n1,2\n"}, "appears twice"),
        ({"columns": [{"name": f"c{i}"} for i in range(101)]}, "columns"),
        ({"csvSample": CRM_CSV, "minConfidence": 2}, "minConfidence"),
    ]
    for sent, fragment in refused:
        assert_error(api.post(suggestions_path(store), json=sent), 400, Code.BAD_REQUEST, fragment)
    unknown = api.post(suggestions_path(store), json={"datasetId": "tdi_dataset_01jx0000000000000000000000"})
    assert_error(unknown, 400, Code.BAD_REQUEST, "no dataset")


def test_the_extension_is_in_the_servers_openapi(api):
    schema = api.get("/openapi.json").json()
    operation = schema["paths"]["/v1/ControlPlane/Stores/{storeId}/DataMappingSuggestions"]["post"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/MappingSuggestions"}
    assert set(schema["paths"]["/v1/ControlPlane/Stores/{storeId}/DataMappings/{dataMappingId}"]) == {"get", "patch", "delete"}


def test_the_answer_has_the_shapes_of_the_contracts_suggestion_schemas(api, store):
    body = api.post(suggestions_path(store), json={"csvSample": CRM_CSV}).json()
    components = official_spec()["components"]
    for part, schema in (("mappingFrom", "DataMappingFromTypes"), ("mappingTo", "DataMappingSuggestionResultTypes")):
        jsonschema.validate(body[part], {"$ref": f"#/components/schemas/{schema}", "components": components})
