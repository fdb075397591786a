"""Statements (round trips) per profile write, counted on the engine with SQLAlchemy's
``before_cursor_execute``: a create of a new profile, a create that updates one profile, and
a create that merges two. The whole request counts (authentication, store lock, context,
writer, commit), through the app in-process.

    python -m bench.statements_bench [--database-url URL] [--writes 50] [--show]
"""

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from sqlalchemy import event
from starlette.testclient import TestClient

from convmem.accounts.service import create_account
from convmem.app import create_app
from convmem.config import Settings
from convmem.database.engine import Database
from convmem.database.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--show", action="store_true", help="print one request's statements of each kind")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="convmem-statements-"))
    url = args.database_url or f"sqlite:///{data_dir / 'convmem.db'}"
    db = Database(url)
    upgrade(db)
    with db.writing() as session:
        credentials = create_account(session, "statements")
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))

    settings = Settings(database_url=url, data_dir=data_dir, signing_key="bench-signing-key", embedded_worker=False, rate_limiting=False)
    with TestClient(create_app(settings, db), base_url="http://127.0.0.1:8000") as client:
        client.auth = (credentials.sid, credentials.secret)
        created = client.post("/v1/ControlPlane/Stores", json={"displayName": "statements"})
        store = client.get(created.headers["Location"]).json()["result"]["id"]
        profiles = f"/v1/Stores/{store}/Profiles"

        def contact(**ids) -> dict:
            return {"traits": {"Contact": ids}}

        def email(i: int) -> str:
            return f"user{i}@example.com"

        def phone(i: int) -> str:
            return f"+1317{5550000 + i:07d}"

        kinds = {
            "create (new profile)": lambda i: contact(email=email(2 * i), phone=phone(2 * i)),
            "create (updates one profile)": lambda i: contact(email=email(2 * i), firstName="Ann"),
            "create (new profile, email only)": lambda i: contact(email=email(2 * i + 1)),
            "create (merges two profiles)": lambda i: contact(email=email(2 * i + 1), phone=phone(2 * i)),
        }
        print(f"{db.engine.dialect.name}, {args.writes} writes of each kind")
        print("| write | statements per request |")
        print("|---|---:|")
        for kind, body in kinds.items():
            statements.clear()
            for i in range(args.writes):
                response = client.post(profiles, json=body(i))
                assert response.status_code == 202, response.text
            if kind.startswith("create (new profile, email"):
                continue  # only sets up the merges
            print(f"| {kind} | {len(statements) / args.writes:.1f} |")
            if args.show:
                first = statements[: len(statements) // args.writes]
                for sql, count in Counter(" ".join(s.split())[:110] for s in first).items():
                    print(f"    {count} × {sql}")


if __name__ == "__main__":
    main()
