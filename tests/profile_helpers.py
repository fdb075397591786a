"""Helpers shared by the lookup, identifier and trait tests: profiles and identity settings over HTTP."""

from tests.contract import assert_conforms

EMAIL = {"idType": "email", "normalization": "email"}
PHONE = {"idType": "phone", "normalization": "phone"}


def create_profile(api, store: str, **contact) -> str:
    response = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": contact}})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def configure_identity(api, store: str, configs: list[dict], rules: list[str]) -> None:
    """Replace the store's identity resolution settings (email and phone stay configured:
    the default Contact group promotes them)."""
    response = api.put(
        f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings",
        json={"identifierConfigs": configs, "matchingRules": rules},
    )
    assert response.status_code == 202, response.text


def identifiers_of(api, store: str, profile: str) -> dict[str, list[str]]:
    response = api.get(f"/v1/Stores/{store}/Profiles/{profile}/Identifiers")
    assert response.status_code == 200, response.text
    assert_conforms(response)
    return {entry["idType"]: entry["values"] for entry in response.json()["identifiers"]}


def lookup(api, store: str, id_type: str, value: str) -> dict:
    response = api.post(f"/v1/Stores/{store}/Profiles/Lookup", json={"idType": id_type, "value": value})
    assert response.status_code == 200, response.text
    assert_conforms(response)
    return response.json()


def add_identifier(api, store: str, profile: str, id_type: str, value: str) -> None:
    response = api.post(f"/v1/Stores/{store}/Profiles/{profile}/Identifiers", json={"idType": id_type, "value": value})
    assert response.status_code == 202, response.text
    assert_conforms(response)
