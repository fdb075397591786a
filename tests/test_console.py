"""The web console's pages and forms, in process on each backend: signing in, tenancy, CSRF,
finding profiles, the merge graph and unmerge, imports, Recall and health. The browser test
(``test_console_browser.py``) drives the same pages in chromium."""

import re
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete

from convmem.accounts.service import create_account, create_api_key
from convmem.console.graph import layout
from convmem.database.tables import ApiKey
from convmem.profiles.service import MergeRecord
from convmem.traitgroups.schemas import DEFAULT_CONTACT_GROUP
from tests.console_support import ConsoleVisitor, text_of
from tests.inprocess import app_api
from tests.jobs_support import wait_for


@contextmanager
def console_on(backend, tmp_path, account, **settings):
    with app_api(backend, tmp_path, account, embeddings="off", **settings) as api:
        visitor = ConsoleVisitor(api.session)
        visitor.api = api
        yield visitor


@pytest.fixture
def console(backend, tmp_path, account):
    """The console of an app on the session's database (whose server's worker runs no job
    these tests wait for), for a new account."""
    with console_on(backend, tmp_path, account) as visitor:
        yield visitor


@pytest.fixture
def signed_in(console, account):
    assert console.sign_in(account.sid, account.secret).status_code == 303
    return console


def create_profile(api, store: str, contact: dict) -> str:
    answer = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": contact}})
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def test_pages_send_a_visitor_without_a_session_to_sign_in(console):
    answer = console.get("/console/stores")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console/stores"
    assert console.get("/console/api/stores/mem_store_01m8sbgbykev895hq5rnqj5de9/imports/x").status_code == 401


def test_signing_in_with_the_auth_token_opens_the_console_and_a_wrong_one_is_refused(console, account):
    store = console.api.create_store("Signed-in")
    refused = console.sign_in(account.sid, account.secret + "x")
    assert refused.status_code == 401
    assert "not accepted" in refused.text
    assert "convmem_console=" not in refused.headers.get("set-cookie", "")
    assert console.get("/console/stores").status_code == 303

    signed = console.sign_in(account.sid, account.secret)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    page = console.get("/console/stores")
    assert page.status_code == 200
    assert store in page.text and "Signed-in" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_a_sign_in_form_from_elsewhere_is_refused(console, account):
    """The form must carry the nonce of the sign-in cookie this site set (no login CSRF)."""
    answer = console.post_form("/console/sign-in", {"username": account.sid, "secret": account.secret, "nonce": "forged"})
    assert answer.status_code == 400
    assert console.get("/console/stores").status_code == 303


def test_an_api_key_signs_in_and_deleting_it_ends_the_session(console, backend, account):
    with backend.db.writing() as session:
        key = create_api_key(session, account.sid, "console")
    assert console.sign_in(key.sid, key.secret).status_code == 303
    assert console.get("/console/stores").status_code == 200
    with backend.db.writing() as session:
        session.execute(delete(ApiKey).where(ApiKey.sid == key.sid))
    assert console.get("/console/stores").status_code == 303


def test_posts_without_the_csrf_token_are_refused(signed_in):
    store = signed_in.api.create_store("Csrf")
    assert signed_in.post_form("/console/sign-out", {}).status_code == 403
    refused = signed_in.post_json(f"/console/api/stores/{store}/imports/suggestions", {"columns": ["email"]}, csrf=False)
    assert refused.status_code == 403
    assert refused.json()["code"] == 20403
    assert signed_in.get("/console/stores").status_code == 200
    assert signed_in.post_form("/console/sign-out", {"csrf_token": signed_in.csrf_token}).status_code == 303
    assert signed_in.get("/console/stores").status_code == 303


def test_another_accounts_store_is_not_found(signed_in, backend, tmp_path):
    with backend.db.writing() as session:
        other = create_account(session, "other")
    with app_api(backend, tmp_path, other) as other_api:
        foreign = other_api.create_store("Not-yours")
    for path in ("", "/profiles", "/imports", "/memory"):
        answer = signed_in.get(f"/console/stores/{foreign}{path}")
        assert answer.status_code == 404, path
        assert "<h1>404" in answer.text
    assert foreign not in signed_in.get("/console/stores").text


def test_the_store_page_shows_settings_rules_and_trait_groups(signed_in):
    store = signed_in.api.create_store("Settings-shown")
    text = text_of(signed_in.get(f"/console/stores/{store}").text)
    assert "Matching rules, in order: email , phone" in text
    for name in DEFAULT_CONTACT_GROUP["traits"]:
        assert name in text
    assert "Promoted to idType" in text


def test_lookup_normalises_and_the_profile_page_shows_the_merge_and_undoes_it(signed_in):
    api = signed_in.api
    store = api.create_store("Merges")
    first = create_profile(api, store, {"email": "ann@example.com", "firstName": "<i>Ann</i>"})
    second = create_profile(api, store, {"phone": "+14155550100", "city": "Oslo"})
    # A write holding both identifiers ties the two profiles together: the later folds into the earlier.
    assert create_profile(api, store, {"email": "ann@example.com", "phone": "+14155550100"}) == first

    found = signed_in.get(f"/console/stores/{store}/profiles", idType="email", value="  ANN@Example.com ")
    text = text_of(found.text)
    assert "1 profile found" in text and "Looked up as ann@example.com" in text
    assert f"/profiles/{first}" in found.text
    by_trait = signed_in.get(f"/console/stores/{store}/profiles", trait="Contact.city", traitValue="Oslo")
    assert f"/profiles/{first}" in by_trait.text

    for unusable in ({"idType": "phone", "value": "not a phone"}, {"trait": "Contact.city", "traitValue": "O\x00slo"}):
        refused = signed_in.get(f"/console/stores/{store}/profiles", **unusable)
        assert refused.status_code == 200 and 'role="alert"' in refused.text, unusable

    moved = signed_in.get(f"/console/stores/{store}/profiles/{second}")
    assert moved.status_code == 303 and moved.headers["location"].startswith(f"/console/stores/{store}/profiles/{first}")

    page = signed_in.get(f"/console/stores/{store}/profiles/{first}")
    assert "&lt;i&gt;Ann&lt;/i&gt;" in page.text and "<i>Ann" not in page.text
    text = text_of(page.text)
    assert "<svg" in page.text and second[len("mem_profile_"):] in page.text
    assert f"merge {second} {first} phone +14155550100" in text
    # Oslo came with the merged profile: its provenance names where it was first written.
    assert re.search(rf"Contact\.city Oslo api:create \S+ {second}", text)

    unmerged = signed_in.post_form(
        f"/console/stores/{store}/profiles/{first}/unmerge", {"merged": second, "csrf_token": signed_in.csrf_token}
    )
    assert unmerged.status_code == 303
    after = text_of(signed_in.get(unmerged.headers["location"]).text)
    assert f"unmerge {second} {first}" in after
    assert signed_in.get(f"/console/stores/{store}/profiles/{second}").status_code == 200


def test_an_import_started_from_the_console_reports_progress_and_row_errors(own_backend, own_account, tmp_path):
    """On a database of its own, whose only worker is this app's: the uploaded file is in its data_dir."""
    with console_on(own_backend, tmp_path, own_account, embedded_worker=True) as signed_in:
        assert signed_in.sign_in(own_account.sid, own_account.secret).status_code == 303
        import_through_the_console(signed_in)


def import_through_the_console(signed_in):
    store = signed_in.api.create_store("Imports")
    suggested = signed_in.post_json(
        f"/console/api/stores/{store}/imports/suggestions", {"columns": ["E-mail", "First Name", "favourite colour"]}
    ).json()["mappings"]
    assert [(m["columnName"], m["traitGroup"], m["traitName"]) for m in suggested] == [
        ("E-mail", "Contact", "email"),
        ("First Name", "Contact", "firstName"),
    ]
    csv = b"E-mail,First Name\nzoe@example.com,Zoe\nnot-an-email,Bad\nyan@example.com,Yan\n"
    mappings = [{k: m[k] for k in ("columnName", "traitGroup", "traitName")} for m in suggested]
    started = signed_in.post_json(
        f"/console/api/stores/{store}/imports", {"filename": "people.csv", "fileSize": len(csv), "columnMappings": mappings}
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert signed_in.client.put(body["uploadUrl"], content=csv, auth=None).status_code == 200

    progress_url = f"/console/api/stores/{store}/imports/{body['importId']}"
    finished = wait_for(lambda: (p := signed_in.get(progress_url).json())["finished"] and p)
    assert finished["status"] == "COMPLETED" and finished["processedRows"] == 3 and finished["errors"] == 1
    page = text_of(signed_in.get(body["page"]).text)
    assert re.search(r"Row errors .* Row Column Severity Reason 3 E-mail \w+ .*email", page), page
    listing = text_of(signed_in.get(f"/console/stores/{store}/imports").text)
    assert f"{body['importId']} people.csv COMPLETED 3 / 3 1" in listing


def test_recall_ranks_the_profiles_memories_with_scores(signed_in):
    api = signed_in.api
    store = api.create_store("Recall")
    profile = create_profile(api, store, {"email": "mem@example.com"})
    now = datetime.now(timezone.utc).isoformat()
    observations = [
        {"content": "Prefers to be called in the evening", "source": "agent", "occurredAt": now},
        {"content": "Owns a red bicycle", "source": "agent", "occurredAt": now},
    ]
    assert api.post(f"/v1/Stores/{store}/Profiles/{profile}/Observations", json={"observations": observations}).status_code == 202
    page = signed_in.get(f"/console/stores/{store}/memory", profile=profile, query="bicycle")
    text = text_of(page.text)
    assert "Search mode lexical" in text
    ranked = re.search(r"Observations, best first Rank Score Content Source Occurred 1 (0\.\d{4}|1\.0000) Owns a red bicycle", text)
    assert ranked, text
    assert "evening" not in text.split("Summaries, best first")[0].split("bicycle", 1)[1]
    missing = signed_in.get(f"/console/stores/{store}/memory", profile="mem_profile_01m8sbgbykev895hq5rnqj5de9", query="x")
    assert "was not found" in missing.text
    too_long = signed_in.get(f"/console/stores/{store}/memory", profile=profile, query="x" * 1025)
    assert too_long.status_code == 200 and "query" in text_of(too_long.text.split("No recall done")[1])


def test_health_shows_the_accounts_jobs_and_the_request_figures(signed_in):
    store = signed_in.api.create_store("Health")
    answer = signed_in.api.put(f"/v1/Stores/{store}/Profiles/Bulk", json={"profiles": [{"traits": {"Contact": {"email": "b@example.com"}}}]})
    assert answer.status_code == 202, answer.text
    text = text_of(signed_in.get("/console/health").text)
    assert re.search(r"Jobs by kind and status Kind Status Jobs bulk (PENDING|RUNNING|COMPLETED) 1", text), text
    assert "PUT /v1/Stores/{storeId}/Profiles/Bulk 1" in text


def test_console_routes_are_not_in_the_openapi_document(signed_in):
    document = signed_in.api.get("/openapi.json").json()
    assert not [path for path in document["paths"] if path.startswith("/console")]


def test_column_suggestions_match_names_loosely_and_use_each_trait_once(signed_in):
    store = signed_in.api.create_store("Suggestions")
    columns = ["EMAIL", "email_address", "Last-Name", "zip", "home address", "shoe size"]
    suggested = signed_in.post_json(f"/console/api/stores/{store}/imports/suggestions", {"columns": columns}).json()["mappings"]
    assert [(m["columnName"], m["traitGroup"], m["traitName"]) for m in suggested] == [
        ("EMAIL", "Contact", "email"),
        ("Last-Name", "Contact", "lastName"),
        ("zip", "Contact", "postalCode"),
        ("home address", "Contact", "street"),
    ]
    assert all(0 < m["confidence"] <= 1 and m["rationale"].startswith(f"Column '{m['columnName']}'") for m in suggested)


def test_the_merge_graph_puts_merged_profiles_left_of_their_survivor():
    at = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
    ledger = [
        MergeRecord("merge", "mem_profile_b", "mem_profile_a", at, "phone", "+1", "api:create"),
        MergeRecord("merge", "mem_profile_c", "mem_profile_b", at, "email", "c@x", "api:create"),
        MergeRecord("unmerge", "mem_profile_b", "mem_profile_a", at, "phone", "+1", "console"),
    ]
    graph = layout("mem_profile_a", ledger)
    x = {node.sid: node.x for node in graph.nodes}
    assert x["mem_profile_c"] < x["mem_profile_b"] < x["mem_profile_a"]
    assert [edge.kind for edge in graph.edges] == ["merge", "merge", "unmerge"]
    merge, _, undo = graph.edges
    assert merge.x1 < merge.x2 and undo.x1 > undo.x2
    assert all(0 <= node.x < graph.width and 0 <= node.y < graph.height for node in graph.nodes)


def test_the_review_queue_of_suggested_merges_is_linked_only_where_the_deployment_has_it(signed_in):
    store = signed_in.api.create_store("Queue")
    assert "Suggested merges" not in signed_in.get(f"/console/stores/{store}").text
    app = signed_in.client.app
    app.add_api_route("/v1/Stores/{storeId}/Suggestions", lambda storeId: {"suggestions": []})
    try:
        page = signed_in.get(f"/console/stores/{store}").text
    finally:
        app.router.routes.pop()
    assert f'href="/v1/Stores/{store}/Suggestions"' in page
