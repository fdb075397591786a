"""Datasets for tests that need one to exist: a CSV file (header only, so its syncs write nothing)
under a server's dataset file root."""

import uuid

from tests.conftest import Server

COLUMNS = ("id", "email", "mail", "primary_email", "email_address", "first", "given", "phone")


def csv_dataset(api, server: Server, store: str, columns=COLUMNS) -> str:
    root = server.data_dir / "datasets"
    root.mkdir(exist_ok=True)
    name = f"{uuid.uuid4().hex}.csv"
    (root / name).write_text(",".join(columns) + "\n")
    response = api.post(
        f"/v1/ControlPlane/Stores/{store}/Datasets",
        json={"displayName": f"ds-{name[:8]}", "source": {"type": "FILE", "location": name, "format": "CSV"}, "keyColumn": columns[0]},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]
