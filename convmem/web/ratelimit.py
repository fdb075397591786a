"""Rate limits: per account by route class, and failed authentications per client address.

Counters live in a storage of the `limits` library: in memory (one process) by default, or
Redis (``CONVMEM_RATE_LIMIT_STORAGE=redis://…``) so that every process of a deployment
shares them. `limits` has no PostgreSQL storage.

A limit is a sliding window counter: two counters per key, no burst at window edges.
When the storage cannot be reached, requests are let through (and a warning logged):
rate limiting protects the server, it must not take it down.
"""

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from convmem.config import Settings
from convmem.web.errors import ApiError, Code

log = logging.getLogger("convmem.ratelimit")

READ, WRITE, RECALL, BULK = "reads", "writes", "recall", "bulk"
FAILED_AUTH = "failed_auth"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# A Redis that does not answer must not hold requests: give up on it quickly and let them through.
REDIS_TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def route_class(method: str, path: str) -> str:
    """Recall and bulk work (bulk upserts, imports) cost more than a plain read or write;
    a lookup is a read sent as a POST."""
    if path.endswith("/Recall"):
        return RECALL
    if method not in _SAFE_METHODS and ("/Bulk" in path or "/Imports" in path):
        return BULK
    return READ if method in _SAFE_METHODS or path.endswith("/Lookup") else WRITE


class RateLimits:
    def __init__(self, settings: Settings):
        configured = {
            READ: settings.rate_limit_reads,
            WRITE: settings.rate_limit_writes,
            RECALL: settings.rate_limit_recall,
            BULK: settings.rate_limit_bulk,
            FAILED_AUTH: settings.rate_limit_failed_auth,
        }
        self.limits: dict[str, RateLimitItem] = {}
        if settings.rate_limiting:
            self.limits = {name: parse(text) for name, text in configured.items() if text.strip().lower() != "off"}
        self.limiter = None
        if self.limits:
            url = settings.rate_limit_storage
            options = REDIS_TIMEOUTS if url.startswith(("redis://", "rediss://")) else {}
            storage = storage_from_string(url, wrap_exceptions=True, **options)
            self.limiter = SlidingWindowCounterRateLimiter(storage)

    def count_request(self, account_sid: str, method: str, path: str) -> None:
        """Count one request of the account; 429 once its class is over the limit."""
        klass = route_class(method, path)
        if not self._hit(klass, account_sid):
            raise self._too_many(klass, account_sid, f"Too many requests ({klass}) for this account: retry later")

    def refuse_blocked_address(self, address: str) -> None:
        """429, before any credential is checked, for an address over its failed-auth limit:
        answering 401 or 200 would still tell a guesser whether the guess was right."""
        limit = self.limits.get(FAILED_AUTH)
        if limit is None or self.limiter is None:
            return
        try:
            allowed = self.limiter.test(limit, FAILED_AUTH, address)
        except StorageError as error:
            log.warning("rate limit storage unavailable: %s", error)
            return
        if not allowed:
            raise self._too_many(FAILED_AUTH, address, "Too many failed authentications from this address: retry later")

    def count_failed_auth(self, address: str) -> None:
        self._hit(FAILED_AUTH, address)

    def _hit(self, klass: str, key: str) -> bool:
        limit = self.limits.get(klass)
        if limit is None or self.limiter is None:
            return True
        try:
            return self.limiter.hit(limit, klass, key)
        except StorageError as error:
            log.warning("rate limit storage unavailable: %s", error)
            return True

    def _too_many(self, klass: str, key: str, message: str) -> ApiError:
        limit = self.limits[klass]
        try:
            reset_at = self.limiter.get_window_stats(limit, klass, key).reset_time
            retry_after = max(1, math.ceil(reset_at - time.time()))
        except StorageError:
            retry_after = limit.get_expiry()
        return ApiError(429, Code.TOO_MANY_REQUESTS, message, {"Retry-After": str(retry_after)})
