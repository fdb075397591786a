"""The console in a real browser: Debian's chromium driven by Playwright (never a downloaded
browser), against a real server on SQLite whose jobs the test runs. One browser for the module;
each step saves a screenshot to ``test-artifacts/console/`` for a person to look at.

The page handlers themselves run on both backends in ``test_console.py``."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from convmem.accounts.service import Credentials, create_account
from convmem.background.blobstore import open_blob_store
from convmem.background.jobs import JobEnv, JobRunner
from convmem.config import Settings
from convmem.imports.job import IMPORT_JOBS
from convmem.kit.clock import WriteClock
from tests.conftest import Api, make_backend, start_server, stop_server

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "console"
# Row 3 has an email no rule can read: the import's error report must say so.
PEOPLE_CSV = "E-mail,First Name,Town\nzoe@example.com,Zoe,Oslo\nnot-an-email,Bad,Rome\n" + "".join(
    f"p{n}@example.com,P{n},Lima\n" for n in range(30)
)


@dataclass
class Site:
    base_url: str
    account: Credentials
    data: dict
    # Runs the jobs waiting in the server's queue: the server has no worker, so a test sees an
    # import before and after its job, whatever the machine's speed.
    run_jobs: Callable[[], None]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server without a worker on a SQLite database of its own, an account, and a store with
    a merged profile and memories."""
    tmp = tmp_path_factory.mktemp("console-browser")
    backend, cleanup = make_backend("sqlite", tmp / "db")
    server = start_server(backend, tmp, extra_env={"CONVMEM_EMBEDDINGS": "off", "CONVMEM_EMBEDDED_WORKER": "false"})
    settings = Settings(database_url=backend.url, data_dir=tmp, signing_key="test-signing-key", embeddings="off")
    runner = JobRunner([IMPORT_JOBS], JobEnv(db=backend.db, settings=settings, clock=WriteClock(), blobs=open_blob_store(settings)))

    def run_jobs() -> None:
        while runner():
            pass

    try:
        with backend.db.writing() as session:
            account = create_account(session, "browser")
        yield Site(server.base_url, account, seed(Api(server.base_url, account)), run_jobs)
    finally:
        stop_server(server)
        cleanup()


def seed(api: Api) -> dict:
    store = api.create_store("Browser-demo")

    def create(contact: dict) -> str:
        answer = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": contact}})
        assert answer.status_code == 202, answer.text
        return answer.json()["id"]

    ann = create({"email": "ann@example.com", "firstName": "Ann"})
    phone_only = create({"phone": "+14155550100", "city": "Oslo"})
    create({"email": "ann@example.com", "phone": "+14155550100"})
    now = datetime.now(timezone.utc).isoformat()
    observations = [
        {"content": "Prefers a call in the evening", "source": "agent", "occurredAt": now},
        {"content": "Rides a red bicycle to work", "source": "agent", "occurredAt": now},
    ]
    answer = api.post(f"/v1/Stores/{store}/Profiles/{ann}/Observations", json={"observations": observations})
    assert answer.status_code == 202, answer.text
    return {"store": store, "ann": ann, "merged": phone_only}


@pytest.fixture(scope="module")
def browser():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site.base_url, viewport={"width": 1366, "height": 768})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, username: str, secret: str) -> None:
    page.goto("/console")
    page.get_by_label("Account SID or API key SID").fill(username)
    page.get_by_label("Auth token or API key secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def test_signing_in_refuses_a_wrong_token_then_lists_the_stores(page, site):
    account = site.account
    sign_in(page, account.sid, "wrong" + account.secret)
    expect(page.get_by_role("alert")).to_have_text("Those credentials were not accepted.")
    shot(page, "01-sign-in-refused")
    page.get_by_label("Auth token or API key secret").fill(account.secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stores")
    page.get_by_role("link", name="Browser-demo").click()
    expect(page.get_by_role("heading", name="Identity resolution")).to_be_visible()
    shot(page, "02-store-settings")


def test_finding_a_profile_and_its_merge_graph(page, site):
    account, data = site.account, site.data
    sign_in(page, account.sid, account.secret)
    page.goto(f"/console/stores/{data['store']}/profiles")
    page.get_by_label("Identifier type").select_option("phone")
    page.get_by_label("Identifier value").fill("+1 (415) 555-0100")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name="1 profile found")).to_be_visible()
    shot(page, "03-profile-search")
    page.get_by_role("link", name=data["ann"]).click()
    graph = page.get_by_role("img", name=f"Merge history of {data['ann']}")
    expect(graph).to_be_visible()
    assert graph.locator("g.edge.merge").count() == 1
    merges = page.get_by_role("table", name="Identity decisions, oldest first")
    expect(merges).to_contain_text(data["merged"])
    expect(merges).to_contain_text("+14155550100")
    shot(page, "04-profile-and-merge-graph")
    page.get_by_role("button", name=f"Unmerge {data['merged']}").click()
    expect(page.get_by_role("status")).to_contain_text("was unmerged")
    assert graph.locator("g.edge.unmerge").count() == 1
    expect(page.get_by_role("button", name=f"Unmerge {data['merged']}")).to_have_count(0)
    shot(page, "05-after-unmerge")


def test_an_import_dropped_as_csv_shows_progress_and_row_errors(page, site):
    account, data = site.account, site.data
    sign_in(page, account.sid, account.secret)
    page.goto(f"/console/stores/{data['store']}/imports")
    dropped = page.evaluate_handle(
        "csv => { const dt = new DataTransfer(); dt.items.add(new File([csv], 'people.csv', {type: 'text/csv'})); return dt; }",
        PEOPLE_CSV,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dropped})
    expect(page.get_by_label("E-mail")).to_have_value("Contact.email")
    expect(page.get_by_label("First Name")).to_have_value("Contact.firstName")
    page.get_by_label("Town").select_option("Contact.city")
    shot(page, "06-import-mapping")
    page.get_by_role("button", name="Start the import").click()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    # The file is in; its job waits in the queue. The open page follows it from here on its own.
    expect(page.locator("#import-state")).to_have_text("PENDING")
    expect(page.get_by_role("status")).to_have_text("Updating while the import runs…")
    shot(page, "07-import-waiting")
    site.run_jobs()
    expect(page.locator("#import-state")).to_have_text("COMPLETED", timeout=30_000)
    expect(page.locator("#import-rows")).to_have_text("32 of 32")
    errors = page.locator("#row-errors")
    expect(errors).to_contain_text("E-mail")
    expect(errors.locator("tbody tr")).to_have_count(1)
    assert errors.locator("tbody tr td").first.inner_text() == "3"
    shot(page, "08-import-finished")


def test_recall_lists_ranked_memories_with_scores(page, site):
    account, data = site.account, site.data
    sign_in(page, account.sid, account.secret)
    page.goto(f"/console/stores/{data['store']}/memory")
    page.get_by_label("Profile id").fill(data["ann"])
    page.get_by_label("Query").fill("bicycle")
    page.get_by_role("button", name="Recall").click()
    first = page.locator("#recalled-observations tbody tr").first
    expect(first).to_contain_text("Rides a red bicycle to work")
    assert float(first.locator("td").nth(1).inner_text()) > 0
    shot(page, "09-recall")
    page.get_by_role("link", name="Health").click()
    expect(page.get_by_role("heading", name="Recent errors")).to_be_visible()
    shot(page, "10-health")
