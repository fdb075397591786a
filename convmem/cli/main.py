"""The ``convmem`` command line."""

import logging
import logging.config
import re
from pathlib import Path

import typer
import uvicorn
from rich.console import Console

from convmem.config import get_settings
from convmem.database.engine import SETUP_LOCK_NAMESPACE, Database

app = typer.Typer(help="convmem: a self-hostable Twilio Conversation Memory API server.", no_args_is_help=True)
accounts_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
console = Console()


def _database() -> Database:
    return Database(get_settings().resolved_database_url)


def _log_config(level: str) -> dict:
    """convmem's own lines (one per request) at the configured level, uvicorn's only when something is wrong.

    Handed to uvicorn too, which applies it in every worker process it starts.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "convmem": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    from convmem.database.migrate import upgrade

    db = _database()
    upgrade(db)
    console.print(f"[green]Database is up to date[/green] ({db.engine.url.render_as_string(hide_password=True)})")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Server worker processes."),
) -> None:
    """Apply migrations, make sure an account exists, and serve the API."""
    from convmem.accounts.service import create_account, ensure_account, has_accounts
    from convmem.background.blobstore import signing_key
    from convmem.database.migrate import upgrade

    settings = get_settings()
    log_config = _log_config(settings.log_level)
    logging.config.dictConfig(log_config)
    if bool(settings.account_sid) != bool(settings.auth_token):
        raise typer.BadParameter("set both CONVMEM_ACCOUNT_SID and CONVMEM_AUTH_TOKEN, or neither")
    db = _database()
    upgrade(db)
    with db.writing() as session:
        # Servers starting together on an empty PostgreSQL database must agree on one account.
        db.lock(session, SETUP_LOCK_NAMESPACE, 0)
        if settings.account_sid and settings.auth_token:
            if not re.fullmatch(r"AC[0-9a-fA-F]{32}", settings.account_sid):
                raise typer.BadParameter("CONVMEM_ACCOUNT_SID must be AC followed by 32 hex digits")
            ensure_account(session, settings.account_sid, settings.auth_token)
        elif not has_accounts(session):
            credentials = create_account(session, "development")
            console.print("[bold]Created a development account[/bold] (shown once):")
            console.print(f"  account SID: {credentials.sid}\n  auth token:  {credentials.secret}")
    db.dispose()
    # Made once here, before the workers start: each reads it for page tokens and upload URLs,
    # and workers racing to create it could read a half-written key.
    signing_key(settings)
    console.print(f"convmem listening on http://{host}:{port}")
    uvicorn.run(
        "convmem.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config,
        log_level="warning",
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Run background workers on their own (bulk batches, imports, embeddings)."""
    from convmem.background.jobs import JobEnv
    from convmem.background.tasks import all_tasks
    from convmem.background.worker import Worker
    from convmem.database.migrate import upgrade
    from convmem.kit.clock import WriteClock

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(message)s")
    db = _database()
    upgrade(db)
    console.print("convmem worker running; Ctrl-C to stop")
    try:
        Worker(all_tasks(JobEnv(db, settings, WriteClock()))).run_forever()
    except KeyboardInterrupt:
        pass


@accounts_app.command("create")
def accounts_create(name: str = typer.Option(None, help="A friendly name.")) -> None:
    """Create an account and print its SID and auth token."""
    from convmem.accounts.service import create_account
    from convmem.database.migrate import upgrade

    db = _database()
    upgrade(db)
    with db.writing() as session:
        credentials = create_account(session, name)
    console.print(f"account SID: {credentials.sid}\nauth token:  {credentials.secret}")


@keys_app.command("create")
def keys_create(
    account: str = typer.Option(..., "--account", help="The AC… SID the key belongs to."),
    name: str = typer.Option(None, help="A friendly name."),
) -> None:
    """Create an API key for an account and print its SID and secret."""
    from convmem.accounts.service import create_api_key
    from convmem.database.migrate import upgrade

    db = _database()
    upgrade(db)
    try:
        with db.writing() as session:
            credentials = create_api_key(session, account, name)
    except LookupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"API key SID: {credentials.sid}\nsecret:      {credentials.secret}")


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The CSV file to import."),
    store: str = typer.Option(..., "--store", help="The store's mem_store_… id."),
    mapping: list[str] = typer.Option(..., "--map", help="column=Group.trait, once per imported column."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The convmem server."),
    account: str = typer.Option(None, "--account", envvar="CONVMEM_ACCOUNT_SID", help="Account SID (AC…) or API key (SK…)."),
    token: str = typer.Option(None, "--token", envvar="CONVMEM_AUTH_TOKEN", help="Auth token or API key secret."),
) -> None:
    """Import a CSV of profiles: create the import, upload the file, follow it, summarise."""
    from convmem.cli.import_client import (
        Client,
        ImportCommandError,
        parse_mapping,
        run_import,
    )

    if not account or not token:
        raise typer.BadParameter("give --account and --token, or set CONVMEM_ACCOUNT_SID and CONVMEM_AUTH_TOKEN")
    try:
        mappings = [parse_mapping(text) for text in mapping]
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    try:
        status = run_import(console, Client(url, account, token), file, store, mappings)
    except ImportCommandError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    raise typer.Exit(status)

