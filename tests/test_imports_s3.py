"""Imports through S3: boto3 pre-signed PUT URLs against a real S3-protocol server (moto)."""

from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from convmem.accounts.service import create_account
from tests.conftest import Api, free_port, make_backend, start_server, stop_server
from tests.jobs_support import (
    create_import,
    fetch_import,
    mappings,
    upload,
    wait_for,
    wait_import,
)

BUCKET = "convmem-imports"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_credentials()).create_bucket(Bucket=BUCKET)
    yield endpoint
    moto.stop()


def _credentials() -> dict:
    return {"aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"]}


@pytest.fixture(scope="module")
def s3_backend(backend, tmp_path_factory):
    """A database of the module's own: the session's server runs a worker on the shared one
    that stores uploads in a local folder, and would claim these imports and never find their
    files (it also makes this server's worker poll S3 for the session's local uploads)."""
    isolated, cleanup = make_backend(backend.name, tmp_path_factory.mktemp("s3-db"))
    yield isolated
    cleanup()


@pytest.fixture(scope="module")
def s3_server(s3_backend, s3_endpoint, tmp_path_factory):
    server = start_server(
        s3_backend,
        tmp_path_factory.mktemp("s3-server"),
        extra_env={"CONVMEM_S3_BUCKET": BUCKET, "CONVMEM_S3_ENDPOINT_URL": s3_endpoint, **AWS_ENV},
    )
    yield server
    stop_server(server)


@pytest.fixture
def s3_api(s3_backend, s3_server) -> Api:
    with s3_backend.db.writing() as session:
        return Api(s3_server.base_url, create_account(session, "s3"))


def test_an_import_uploads_to_s3_with_a_presigned_put(s3_api, s3_endpoint):
    store = s3_api.create_store()
    data = b"email,first_name\r\ns3@example.com,Sam\r\n,Nobody\r\n"
    import_id, url = create_import(s3_api, store, data, mappings({"email": "email", "first_name": "firstName"}))
    parsed = urlparse(url)
    assert f"{parsed.scheme}://{parsed.netloc}" == s3_endpoint
    assert import_id in parsed.path and parsed.path.endswith("/profiles.csv")
    query = parse_qs(parsed.query)
    assert query["X-Amz-Expires"] == ["1800"] and "X-Amz-Signature" in query
    assert fetch_import(s3_api, store, import_id)["status"] == "PENDING"

    response = upload(url, data)
    assert response.status_code == 200, response.text
    done = wait_import(s3_api, store, import_id)
    assert done["status"] == "COMPLETED", done
    assert done["summary"] == {"errors": 1, "warnings": 0}
    (profile,) = s3_api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"]
    assert s3_api.get(f"/v1/Stores/{store}/Profiles/{profile}").json()["traits"]["Contact"]["firstName"] == "Sam"
    key = parsed.path.split(f"/{BUCKET}/", 1)[1]
    listed = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **_credentials()).list_objects_v2(
        Bucket=BUCKET, Prefix=key
    )
    assert listed["KeyCount"] == 0, "a finished import's file is deleted"


def test_an_s3_upload_of_another_size_never_imports(s3_api):
    store = s3_api.create_store()
    data = b"email,first_name\nbig@example.com,Big\n"
    import_id, url = create_import(s3_api, store, data, mappings({"email": "email", "first_name": "firstName"}))
    response = upload(url, data + b"more@example.com,More\n")
    if response.ok:  # S3 refuses a body whose size differs from the signed one; if the server took it anyway...
        done = wait_import(s3_api, store, import_id)
        assert done["status"] == "FAILED" and "fileSize" in done["failureReason"]
    else:
        assert wait_for(lambda: fetch_import(s3_api, store, import_id)["status"] == "PENDING", timeout=3)
    assert s3_api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"] == []
