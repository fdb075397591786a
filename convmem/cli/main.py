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
jobs_app = typer.Typer(help="Manage background jobs (bulk batches, imports).", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")
console = Console()


def _database() -> Database:
    return Database(get_settings().resolved_database_url)


def _log_config(level: str, redact_traits: bool = False) -> dict:
    """convmem's own lines (one per request) at the configured level, uvicorn's only when something is wrong.

    Handed to uvicorn too, which applies it in every worker process it starts. Every line goes
    through the redacting formatter: credentials never reach the log, trait values not when asked.
    """
    formatter = {"()": "convmem.web.observability.RedactingFormatter", "fmt": "%(message)s", "redact_values": redact_traits}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "convmem": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
        # Libraries' warnings too go through the redacting formatter.
        "root": {"handlers": ["stderr"], "level": "WARNING"},
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
    from functools import partial

    from convmem.accounts.service import create_account, ensure_account, has_accounts
    from convmem.background.blobstore import signing_key
    from convmem.database.migrate import upgrade
    from convmem.web.connections import BoundedH11Protocol

    settings = get_settings()
    log_config = _log_config(settings.log_level, settings.log_redact_traits)
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
    console.print(f"convmem listening on http://{host}:{port} (web console: http://{host}:{port}/console)")
    uvicorn.run(
        "convmem.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config,
        log_level="warning",
        access_log=False,
        # Forwarded headers are applied by convmem.web.hosts, and only from trusted proxies.
        proxy_headers=False,
        http=partial(BoundedH11Protocol, header_timeout=settings.header_timeout_seconds),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=settings.keep_alive_seconds,
    )


@app.command()
def worker() -> None:
    """Run background workers on their own (bulk batches, imports, embeddings)."""
    from convmem.background.blobstore import open_blob_store
    from convmem.background.jobs import JobEnv
    from convmem.background.worker import Worker
    from convmem.database.migrate import upgrade
    from convmem.kit.clock import WriteClock
    from convmem.memory.embeddings import embedder_for
    from convmem.tasks import all_tasks

    settings = get_settings()
    logging.config.dictConfig(_log_config(settings.log_level, settings.log_redact_traits))
    db = _database()
    upgrade(db)
    console.print("convmem worker running; Ctrl-C to stop")
    try:
        env = JobEnv(
            db=db, settings=settings, clock=WriteClock(), blobs=open_blob_store(settings), embedder=embedder_for(settings)
        )
        Worker(all_tasks(env)).run_forever()
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


@jobs_app.command("retry")
def jobs_retry(job_id: str = typer.Argument(..., help="An import's mem_import_… id or a batch's mem_bulk_… id.")) -> None:
    """Make a FAILED job run again from where it stopped, with its attempts reset."""
    from sqlalchemy import select

    from convmem.background.blobstore import open_blob_store
    from convmem.background.jobs import JobStatus, retry
    from convmem.bulk.job import BULK_JOBS
    from convmem.database.migrate import upgrade
    from convmem.database.tables import Job
    from convmem.imports import repository as imports
    from convmem.imports.job import IMPORT_JOBS

    kinds = {kind.name: kind for kind in (BULK_JOBS, IMPORT_JOBS)}
    db = _database()
    upgrade(db)
    with db.writing() as session:
        job = session.scalar(select(Job).where(Job.sid == job_id).with_for_update())
        if job is None or job.status != JobStatus.FAILED:
            problem = "no such job" if job is None else f"it is {job.status}, not FAILED"
            console.print(f"[red]Cannot retry {job_id}: {problem}[/red]")
            raise typer.Exit(1)
        if job.kind not in kinds:
            # A data mapping's sync is not retried: a new sync goes on from the position the failed one reached.
            console.print(f"[red]Cannot retry {job_id}: start a new sync of its data mapping, which goes on where this one stopped[/red]")
            raise typer.Exit(1)
        imported = imports.by_job(session, job.id)
        # An import that failed on its file (its header, its size) has had the file deleted.
        if imported is not None and open_blob_store(get_settings()).size(imported.blob_key) is None:
            console.print(f"[red]Cannot retry {job_id}: its uploaded file is gone; create a new import[/red]")
            raise typer.Exit(1)
        retry(session, job, kinds[job.kind])
    console.print(f"[green]{job_id} will run again[/green], from where it stopped")


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The CSV file to import."),
    store: str = typer.Option(..., "--store", help="The store's mem_store_… id."),
    mapping: list[str] = typer.Option(None, "--map", help="column=Group.trait, once per imported column."),
    data_mapping: str = typer.Option(
        None, "--data-mapping", help="An INGRESS data mapping's mem_datamapping_… id, in place of --map."
    ),
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
    if bool(mapping) == bool(data_mapping):
        raise typer.BadParameter("give --map (once per column) or --data-mapping, not both")
    try:
        mapped_by = {"dataMappingId": data_mapping} if data_mapping else {"columnMappings": [parse_mapping(text) for text in mapping]}
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    try:
        status = run_import(console, Client(url, account, token), file, store, mapped_by)
    except ImportCommandError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    raise typer.Exit(status)



class _CopyBars:
    """A progress bar per table while ``convmem copy`` runs."""

    def __init__(self, progress):
        self.progress = progress
        self.tasks = {}

    def table_started(self, table: str, total: int, copied: int) -> None:
        self.tasks[table] = self.progress.add_task(table, total=total, completed=copied)

    def rows_copied(self, table: str, rows: int) -> None:
        self.progress.advance(self.tasks[table], rows)


@app.command("copy")
def copy_command(
    source: str = typer.Option(..., "--from", help="The database URL to copy from."),
    target: str = typer.Option(..., "--to", help="The database URL to copy to (migrated first)."),
    batch_size: int = typer.Option(5000, "--batch-size", min=1, help="Rows per batch (and per checkpoint)."),
    resume: bool = typer.Option(False, "--resume", help="Finish a copy that was interrupted."),
    force: bool = typer.Option(False, "--force", help="Delete whatever the target holds, then copy."),
) -> None:
    """Copy a whole deployment to another database (SQLite to PostgreSQL and back), ids kept,
    then compare row counts per table and a checksum per store."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from convmem.database.copy import CopyRefused, copy_database

    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            report = copy_database(
                source, target, batch_size=batch_size, resume=resume, force=force, progress=_CopyBars(progress)
            )
    except CopyRefused as refusal:
        console.print(f"[red]Not copied: {refusal}[/red]")
        raise typer.Exit(1) from None
    table = Table("table", "source rows", "target rows", "")
    for check in report.tables:
        table.add_row(check.table, str(check.source_rows), str(check.target_rows), "ok" if check.ok else "[red]MISMATCH[/red]")
    console.print(table)
    stores_differing = [check.store for check in report.stores if not check.ok]
    console.print(f"{len(report.stores) - len(stores_differing)} of {len(report.stores)} stores have the same checksum")
    if not report.ok:
        console.print(f"[red]The copy differs from the source[/red]; stores differing: {', '.join(stores_differing) or 'none'}")
        raise typer.Exit(1)
    console.print("[green]Copied: the target equals the source[/green]")


@app.command()
def backup(to: Path = typer.Option(..., "--to", help="The backup file to write (must not exist).")) -> None:
    """Back up the SQLite database while the server runs (SQLite's online backup API)."""
    from convmem.database.copy import CopyRefused, backup_sqlite

    try:
        backup_sqlite(get_settings().resolved_database_url, to)
    except CopyRefused as refusal:
        console.print(f"[red]Not backed up: {refusal}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]Backed up[/green] to {to}")


@app.command("export")
def export_store(
    store: str = typer.Option(..., "--store", help="The store's mem_store_… id."),
    out: Path = typer.Option(None, "--out", dir_okay=False, help="The file to write (JSON Lines); standard output if not given."),
) -> None:
    """Write a store as JSON Lines: the store, then one record per live profile."""
    import sys
    from contextlib import nullcontext

    from sqlalchemy import select

    from convmem.database.migrate import upgrade
    from convmem.database.tables import Store
    from convmem.portability.service import export_store as records_of

    db = _database()
    upgrade(db)
    with db.reading() as session:
        if not db.is_sqlite:  # one snapshot for the whole file (SQLite's read transaction is one already)
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        found = session.scalar(select(Store).where(Store.sid == store))
        if found is None:
            console.print(f"[red]No store {store} in this database[/red]")
            raise typer.Exit(1)
        with open(out, "w", encoding="utf-8") if out else nullcontext(sys.stdout) as sink:
            for profiles, record in enumerate(records_of(session, found)):
                sink.write(record.model_dump_json() + "\n")
    if out:  # the first record is the store's
        console.print(f"[green]Exported {store}[/green]: {profiles} profiles to {out}")


@app.command("import-store")
def import_store(
    file: Path = typer.Option(..., "--file", exists=True, dir_okay=False, readable=True, help="A file written by convmem export."),
    account: str = typer.Option(None, "--account", help="The AC… SID of the account to own the store; needed when there are several."),
) -> None:
    """Read an export into a new store, keeping its ids (the store's, profiles', aliases', memories')."""
    from sqlalchemy import select

    from convmem.database.migrate import upgrade
    from convmem.database.tables import Account
    from convmem.portability.service import ImportRefused
    from convmem.portability.service import import_store as read_into

    db = _database()
    upgrade(db)
    try:
        with db.writing() as session, open(file, encoding="utf-8") as lines:
            query = select(Account.id, Account.sid)
            owners = session.execute(query.where(Account.sid == account) if account else query.limit(2)).all()
            if len(owners) != 1:
                problem = f"no account {account}" if account else "give --account: the database has several accounts, or none"
                raise ImportRefused(problem)
            store = read_into(session, owners[0].id, lines)
            imported = (store.sid, store.display_name, owners[0].sid)
    except (ImportRefused, ValueError) as error:
        console.print(f"[red]Nothing imported: {error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]Imported store {imported[0]}[/green] ('{imported[1]}') into account {imported[2]}")
