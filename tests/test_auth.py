"""HTTP Basic auth: account SID + auth token or API key + secret, stored hashed; accounts see only their own stores."""

import base64

import pytest
import requests
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.memory.v1.store import StoreList

from convmem.accounts.service import create_account
from convmem.database.tables import Account, ApiKey
from convmem.web.errors import Code
from tests.conftest import Api
from tests.contract import assert_conforms
from tests.test_control_plane_stores import assert_error


def sdk(server, username: str, password: str, **kwargs) -> Client:
    client = Client(username, password, environment={"_": "1"}, **kwargs)
    client.memory.base_url = server.base_url
    return client


def assert_unauthorized(response) -> None:
    assert_error(response, 401, Code.UNAUTHORIZED)
    assert response.headers["WWW-Authenticate"] == 'Basic realm="convmem"'


def test_an_api_key_works_with_the_sdk_for_its_account(server, api_key, api):
    client = sdk(server, api_key.sid, api_key.secret, account_sid=api_key.account_sid)
    created = client.memory.v1.stores.create(StoreList.ServiceRequest({"displayName": "via-key"}))
    store_id = client.memory.v1.operations(created.status_url.rsplit("/", 1)[1]).fetch().result["id"]
    assert client.memory.v1.stores(store_id).fetch().display_name == "via-key"
    assert api.get("/v1/ControlPlane/Stores").json()["stores"] == [store_id]


def test_missing_credentials_are_401_with_www_authenticate(server, store):
    for path in ("/v1/ControlPlane/Stores", f"/v1/ControlPlane/Stores/{store}", "/v1/ControlPlane/Operations/x"):
        assert_unauthorized(requests.get(server.base_url + path, timeout=30))
    response = requests.get(f"{server.base_url}/v1/Stores/{store}/Profiles", timeout=30)
    assert_unauthorized(response)
    assert_conforms(response)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    ],
)
def test_malformed_authorization_headers_are_401(server, header):
    response = requests.get(server.base_url + "/v1/ControlPlane/Stores", headers={"Authorization": header}, timeout=30)
    assert_unauthorized(response)


def test_wrong_credentials_are_401_with_the_sdk_and_raw(server, account, api_key):
    wrong = [
        (account.sid, "wrong-token"),
        (account.sid, ""),
        (api_key.sid, "wrong-secret"),
        (api_key.sid, account.secret),  # a key with its account's token
        (account.sid, api_key.secret),  # an account with its key's secret
        ("AC" + "0" * 32, account.secret),
        ("SK" + "0" * 32, api_key.secret),
        ("someone", "anything"),
    ]
    for username, password in wrong:
        response = requests.get(server.base_url + "/v1/ControlPlane/Stores", auth=(username, password), timeout=30)
        assert_unauthorized(response)
    with pytest.raises(TwilioRestException) as refused:
        sdk(server, account.sid, "wrong-token").memory.v1.stores.create(StoreList.ServiceRequest({"displayName": "nope"}))
    assert (refused.value.status, refused.value.code) == (401, Code.UNAUTHORIZED)


def test_secrets_are_stored_hashed(backend, account, api_key):
    with backend.db.reading() as session:
        token_hash = session.scalar(select(Account.token_hash).where(Account.sid == account.sid))
        secret_hash = session.scalar(select(ApiKey.secret_hash).where(ApiKey.sid == api_key.sid))
    assert account.secret not in token_hash and token_hash.startswith("sha256$")
    assert api_key.secret not in secret_hash and secret_hash.startswith("sha256$")


def test_another_accounts_store_is_404_everywhere(server, backend, api, store):
    with backend.db.writing() as session:
        intruder = Api(server.base_url, create_account(session, "intruder"))
    created = api.post("/v1/ControlPlane/Stores", json={"displayName": "private"})
    operation = created.headers["Operation-Id"]
    base = f"/v1/ControlPlane/Stores/{store}"
    attempts = [
        intruder.get(base),
        intruder.patch(base, json={"description": "mine now"}),
        intruder.delete(base),
        intruder.get(f"{base}/TraitGroups"),
        intruder.get(f"{base}/TraitGroups/Contact"),
        intruder.post(f"{base}/TraitGroups", json={"displayName": "Sneaky"}),
        intruder.patch(f"{base}/TraitGroups/Contact", json={"description": "x"}),
        intruder.delete(f"{base}/TraitGroups/Contact"),
        intruder.get(f"{base}/IdentityResolutionSettings"),
        intruder.put(f"{base}/IdentityResolutionSettings", json={"identifierConfigs": [{"idType": "email"}], "matchingRules": ["email"]}),
        intruder.get(f"/v1/ControlPlane/Operations/{operation}"),
    ]
    for response in attempts:
        assert_error(response, 404, Code.NOT_FOUND)
    assert intruder.get("/v1/ControlPlane/Stores").json()["stores"] == []
    assert intruder.create_store("private").startswith("mem_store_")  # names are per account
    fetched = api.get(base).json()
    assert fetched["version"] == 1 and "description" not in fetched
    assert api.get(f"{base}/TraitGroups/Contact").json()["traitGroup"]["version"] == 1
    assert api.get(f"{base}/IdentityResolutionSettings").json()["version"] == 1
