"""Settings, each also an environment variable prefixed ``CONVMEM_``."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVMEM_", extra="ignore")

    data_dir: Path = Path("convmem-data")
    database_url: str | None = None
    public_url: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    account_sid: str | None = None
    auth_token: str | None = None
    signing_key: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    upload_url_ttl_seconds: int = 1800
    embedded_worker: bool = True
    log_level: str = "INFO"
    # "auto": semantic recall when the `semantic` extra is installed; "off": lexical recall only.
    embeddings: Literal["auto", "off"] = "auto"
    # Background jobs: a worker that stops renewing its lease for this long loses the job to another.
    job_lease_seconds: float = 30.0
    # Rows (imports) or profiles (bulk) written per transaction: the most a crash can make a worker redo.
    job_chunk_size: int = 1000
    # A job waits out a database outage this long without using up its attempts.
    job_outage_seconds: float = 300.0

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'convmem.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
