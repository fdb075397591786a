"""Where uploaded import files live: a folder under ``data_dir`` by default, an S3 bucket when
``s3_bucket`` is set.

* Local: the pre-signed URL is served by convmem itself, ``PUT /v1/Uploads/{importId}?
  expires=…&signature=…``. The signature is HMAC-SHA256, under the signing key, of the
  import id, the declared size and the expiry, so a URL is good for one import, one size
  and a limited time. The body is streamed to a part file and linked into place only when
  its size is the declared one; linking fails if the file exists, so only one PUT wins.
* S3: a boto3 pre-signed ``put_object`` URL with the content length signed in.

Workers read a file through ``local_copy``: the file itself, or for S3 a copy downloaded
once into ``data_dir``, which the CSV reader can seek in when a job resumes.
"""

import hashlib
import hmac
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlencode

from convmem.config import Settings

SIGNING_KEY_FILE = "upload-signing-key"


class UploadRejected(Exception):
    """The upload can't be accepted; ``status`` says how to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def blob_key(account_sid: str, store_sid: str, import_sid: str, filename: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100].lstrip(".") or "upload.csv"
    return f"{account_sid}/{store_sid}/{import_sid}/{safe}"


def signing_key(settings: Settings) -> bytes:
    """The configured key, else one generated once and kept under ``data_dir``.

    Several processes on one ``data_dir`` may look for it at once (each server process opens
    its blob store as it starts): the key is written to a part file and linked into place
    whole, so none reads it half-written, and linking fails if the file exists, so the first
    key written wins."""
    if settings.signing_key:
        return settings.signing_key.encode()
    path = settings.data_dir / SIGNING_KEY_FILE
    with suppress(FileNotFoundError):
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    part = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
    try:
        with open(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(key)
            out.flush()
            os.fsync(out.fileno())
        os.link(part, path)
    except FileExistsError:
        return path.read_bytes().strip()
    finally:
        part.unlink(missing_ok=True)
    return key


def upload_signature(key: bytes, import_sid: str, size: int, expires: int) -> str:
    return hmac.new(key, f"PUT:{import_sid}:{size}:{expires}".encode(), hashlib.sha256).hexdigest()


class LocalBlobs:
    def __init__(self, settings: Settings, wall_clock: Callable[[], float] = time.time):
        self.root = settings.data_dir / "uploads"
        self.key = signing_key(settings)
        self.ttl = settings.upload_url_ttl_seconds
        self.wall_clock = wall_clock

    def upload_url(self, base_url: str, import_sid: str, key: str, size: int) -> str:
        expires = int(self.wall_clock()) + self.ttl
        query = urlencode({"expires": expires, "signature": upload_signature(self.key, import_sid, size, expires)})
        return f"{base_url}/v1/Uploads/{import_sid}?{query}"

    def check_signature(self, import_sid: str, size: int, expires: str, signature: str) -> None:
        if not expires.isdigit() or not hmac.compare_digest(upload_signature(self.key, import_sid, size, int(expires)), signature):
            raise UploadRejected(403, "The upload URL's signature is not valid for this import")
        if int(expires) < self.wall_clock():
            raise UploadRejected(403, "The upload URL has expired; create a new import")

    def path(self, key: str) -> Path:
        return self.root / key

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    async def receive(self, key: str, chunks: AsyncIterator[bytes], expected_size: int) -> None:
        """Store a streamed body; it must be exactly ``expected_size`` bytes."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(f"{final.name}.{uuid.uuid4().hex}.part")
        try:
            received = 0
            with open(part, "wb") as out:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > expected_size:
                        raise UploadRejected(400, f"The upload is larger than the import's declared fileSize of {expected_size} bytes")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if received != expected_size:
                raise UploadRejected(
                    400, f"The upload is {received} bytes but the import declared a fileSize of {expected_size} bytes"
                )
            try:
                os.link(part, final)
            except FileExistsError:
                raise UploadRejected(409, "A file was already uploaded for this import; the URL takes one PUT") from None
        finally:
            part.unlink(missing_ok=True)

    def local_copy(self, key: str) -> Path:
        return self.path(key)

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        with suppress(OSError):  # the import's folder, unless an upload is streaming into it
            path.parent.rmdir()


class S3Blobs:
    def __init__(self, settings: Settings):
        import boto3
        from botocore.config import Config

        self.bucket = settings.s3_bucket
        self.ttl = settings.upload_url_ttl_seconds
        self.cache = settings.data_dir / "s3-cache"
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            config=Config(signature_version="s3v4"),
        )

    def upload_url(self, base_url: str, import_sid: str, key: str, size: int) -> str:
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentLength": size}, ExpiresIn=self.ttl
        )

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def local_copy(self, key: str) -> Path:
        path = self.cache / key
        if path.exists() and path.stat().st_size == self.size(key):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        self.client.download_file(self.bucket, key, str(part))
        part.replace(path)
        return path

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)
        (self.cache / key).unlink(missing_ok=True)


BlobStore = LocalBlobs | S3Blobs


def open_blob_store(settings: Settings, wall_clock: Callable[[], float] = time.time) -> BlobStore:
    """The store the settings name. Made once by each composition root (the app, ``convmem
    worker``) and handed down: a boto3 client is costly to make. ``wall_clock`` dates the
    upload URLs convmem signs itself (S3 signs its own)."""
    return S3Blobs(settings) if settings.s3_bucket else LocalBlobs(settings, wall_clock)
