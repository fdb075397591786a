"""Driving the console's pages over an in-process app, as a browser would: cookies kept,
forms posted with their hidden fields, redirects looked at rather than followed."""

import re
from html import unescape

from starlette.testclient import TestClient


class ConsoleVisitor:
    """A visitor of ``/console`` on the app's test client (which keeps cookies), sending no
    Basic credentials: only the console's own session signs it in."""

    def __init__(self, client: TestClient):
        self.client = client
        self.csrf_token = ""

    def get(self, path: str, **params):
        return self.client.get(path, params=params or None, auth=None, follow_redirects=False)

    def post_form(self, path: str, fields: dict):
        return self.client.post(path, data=fields, auth=None, follow_redirects=False)

    def post_json(self, path: str, body: dict, *, csrf: bool = True):
        headers = {"X-CSRF-Token": self.csrf_token} if csrf else {}
        return self.client.post(path, json=body, headers=headers, auth=None, follow_redirects=False)

    def sign_in(self, username: str, secret: str):
        form = self.get("/console/sign-in")
        nonce = hidden_field(form.text, "nonce")
        answer = self.post_form("/console/sign-in", {"username": username, "secret": secret, "nonce": nonce})
        if answer.status_code == 303:
            self.csrf_token = hidden_field(self.get("/console/stores").text, "csrf_token")
        return answer


def hidden_field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no field {name} in the page"
    return unescape(found.group(1))


def text_of(page: str) -> str:
    """The page's text without its tags, blanks folded: what a reader sees."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())
