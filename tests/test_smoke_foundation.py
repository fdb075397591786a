from tests.contract import assert_conforms


def test_create_and_fetch_store(api):
    store = api.create_store("alpha")
    response = api.get(f"/v1/ControlPlane/Stores/{store}")
    assert response.status_code == 200
    assert response.json()["displayName"] == "alpha"
    assert_conforms(response)
