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
    # Whether workers keep the review queue of likely duplicates current (docs/extensions.md,
    # "Suggestions"): background work after every write, which a bulk-loading deployment may not want.
    suggestions: bool = True
    # A job waits out a database outage this long without using up its attempts.
    job_outage_seconds: float = 300.0
    # Forwarded headers (X-Forwarded-*, Forwarded) are only believed from these addresses or
    # networks, comma-separated ("10.0.0.1,10.1.0.0/16"); none by default.
    trusted_proxies: str = ""
    # Host names requests may carry, comma-separated ("api.example.com", "*.example.com",
    # "host:8443", "*" for any). Unset: loopback and the address the server listens on.
    allowed_hosts: str | None = None
    # Rate limits, in the `limits` library's notation ("3000/minute"); "off" disables one.
    rate_limiting: bool = True
    rate_limit_storage: str = "memory://"
    rate_limit_reads: str = "6000/minute"
    rate_limit_writes: str = "3000/minute"
    rate_limit_recall: str = "1200/minute"
    rate_limit_bulk: str = "600/minute"
    rate_limit_failed_auth: str = "100/minute"
    # Who may read /docs and /openapi.json, and /metrics, without credentials.
    public_docs: bool = True
    public_metrics: bool = False
    # Redact trait values (and anything quoted) from log lines and tracebacks.
    log_redact_traits: bool = False
    # Connection bounds: the largest request head, and how long it may take to arrive.
    max_header_bytes: int = 16 * 1024
    header_timeout_seconds: float = 10.0
    keep_alive_seconds: int = 5
    # How long an Idempotency-Key replays its write's answer (and refuses another request).
    idempotency_ttl_seconds: int = 24 * 3600
    # Datasets (docs/data-mappings.md): local files (CSV, Parquet, SQLite) are read only under this
    # folder (default: data_dir/datasets); the worker looks for data mappings due a sync this often.
    dataset_file_root: Path | None = None
    dataset_sync_check_seconds: float = 5.0

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _comma_list(self.trusted_proxies)

    @property
    def allowed_host_list(self) -> list[str] | None:
        return None if self.allowed_hosts is None else _comma_list(self.allowed_hosts)

    @property
    def resolved_dataset_file_root(self) -> Path:
        return self.dataset_file_root or self.data_dir / "datasets"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'convmem.db').resolve()}"


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
