"""``convmem import``: create an import, upload the file, follow it to the end, summarise.

Talks to a convmem server over its public API only (the same calls an SDK makes), with the
standard library's HTTP client.
"""

import base64
import csv
import io
import json
import time
import urllib.error
import urllib.request
from itertools import islice
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

POLL_SECONDS = 0.5
SHOWN_ERRORS = 10


class ImportCommandError(Exception):
    """A request failed; the message is the server's."""


def parse_mapping(text: str) -> dict:
    """``column=Group.trait`` as a ColumnMappingItem (the column may itself contain '=')."""
    column, sep, target = text.rpartition("=")
    group, dot, trait = target.partition(".")
    if not sep or not column or not dot or not group or not trait:
        raise ValueError(f"--map '{text}' is not column=Group.trait")
    return {"columnName": column, "traitGroup": group, "traitName": trait}


class Client:
    def __init__(self, base_url: str, account: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{account}:{token}".encode()).decode()

    def open(self, method: str, url: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url if url.startswith("http") else self.base_url + url,
            data=data,
            method=method,
            headers={"Authorization": self.auth, "Content-Type": "application/json"},
        )
        try:
            return urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as error:
            raise ImportCommandError(_message(error)) from None
        except urllib.error.URLError as error:
            raise ImportCommandError(f"Cannot reach {self.base_url}: {error.reason}") from None

    def call(self, method: str, url: str, body: dict | None = None) -> dict:
        with self.open(method, url, body) as response:
            return json.loads(response.read())


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return f"{error.code}: {json.loads(error.read())['message']}"
    except (ValueError, KeyError):
        return f"{error.code}: {error.reason}"


class _Reading:
    """A file whose reads advance a progress bar (urllib streams a body by calling read)."""

    def __init__(self, handle, progress: Progress, task):
        self.handle, self.progress, self.task = handle, progress, task

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.progress.advance(self.task, len(chunk))
        return chunk


def _upload(url: str, path: Path, size: int, progress: Progress) -> None:
    task = progress.add_task("Uploading", total=size)
    with open(path, "rb") as handle:
        request = urllib.request.Request(
            url, data=_Reading(handle, progress, task), method="PUT", headers={"Content-Length": str(size)}
        )
        try:
            with urllib.request.urlopen(request, timeout=600):
                pass
        except urllib.error.HTTPError as error:
            raise ImportCommandError(f"Upload refused: {_message(error)}") from None


def run_import(console: Console, client: Client, path: Path, store: str, mapped_by: dict) -> int:
    """Import ``path`` into ``store``; returns the exit status (0 when COMPLETED).

    ``mapped_by`` is how columns map to traits: ``{"columnMappings": [...]}`` or ``{"dataMappingId": …}``."""
    size = path.stat().st_size
    created = client.call("POST", f"/v1/Stores/{store}/Profiles/Imports", {"filename": path.name, "fileSize": size} | mapped_by)
    import_id = created["importId"]
    console.print(f"Import [bold]{import_id}[/bold] created")
    columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
    with Progress(*columns, DownloadColumn(), console=console) as progress:
        _upload(created["url"], path, size, progress)
    status = f"/v1/Stores/{store}/Profiles/Imports/{import_id}"
    with Progress(*columns, MofNCompleteColumn(), console=console) as progress:
        task = progress.add_task("Waiting for a worker", total=None)
        while True:
            body = client.call("GET", status)
            rows = body.get("progress", {})
            if "totalRows" in rows:
                progress.update(task, description="Importing rows", total=rows["totalRows"], completed=rows["processedRows"])
            if body["status"] in ("COMPLETED", "FAILED"):
                break
            time.sleep(POLL_SECONDS)
    _summarise(console, client, body)
    return 0 if body["status"] == "COMPLETED" else 1


def _summarise(console: Console, client: Client, body: dict) -> None:
    rows = body.get("progress", {})
    colour = "green" if body["status"] == "COMPLETED" else "red"
    console.print(f"[{colour}]{body['status']}[/{colour}]: {rows.get('processedRows', 0)} of {rows.get('totalRows', '?')} rows processed")
    if body.get("failureReason"):
        console.print(f"[red]{body['failureReason']}[/red]")
    console.print(f"errors: {body['summary']['errors']}, warnings: {body['summary']['warnings']}")
    entries = body["summary"]["errors"] + body["summary"]["warnings"]
    if entries:
        table = Table("row", "column", "severity", "reason")
        with client.open("GET", body["errorReportUrl"]) as response:
            report = csv.reader(io.TextIOWrapper(response, encoding="utf-8"))
            next(report)
            for entry in islice(report, SHOWN_ERRORS):
                table.add_row(*entry)
        console.print(table)
        if entries > SHOWN_ERRORS:
            console.print(f"… and {entries - SHOWN_ERRORS} more")
        console.print(f"Full report: {body['errorReportUrl']}")
