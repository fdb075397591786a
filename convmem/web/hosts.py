"""Which host a request is for, and whether we answer it.

URLs we hand out (``Location``, upload URLs) are built from the request's scheme and
``Host`` when ``CONVMEM_PUBLIC_URL`` is not set, so both are checked before any route runs:

* forwarded headers (``X-Forwarded-Proto``, ``X-Forwarded-Host``, ``X-Forwarded-For``,
  ``Forwarded``) are applied only when the connection comes from a trusted proxy, and then
  the value the nearest proxy wrote (the last one) wins, since earlier ones come from the client;
* the host must be in the allow-list, else the answer is 400 in the contract's format.
"""

import ipaddress
from urllib.parse import urlsplit

from convmem.web.errors import ApiError, Code, send_error

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class TrustedProxies:
    def __init__(self, entries: list[str]):
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]

    def __contains__(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


class AllowedHosts:
    """``configured`` entries: ``name`` (any port), ``name:port``, ``*.domain``, ``*``.
    None means loopback names and the address the connection came in on, with its port."""

    def __init__(self, configured: list[str] | None, public_url: str | None):
        self.configured = None if configured is None else [entry.lower() for entry in configured]
        self.public_host = urlsplit(public_url).netloc.lower() if public_url else None

    def allows(self, host: str, server: tuple[str, int] | None) -> bool:
        host = host.lower()
        if self.public_host and host == self.public_host:
            return True
        if self.configured is None:
            return host in self._defaults(server)
        name = _hostname(host)
        return any(_matches(entry, host, name) for entry in self.configured)

    @staticmethod
    def _defaults(server: tuple[str, int] | None) -> set[str]:
        if not server:
            return set()
        address, port = server[0], server[1]
        names = {*LOOPBACK_NAMES, f"[{address}]" if ":" in address else address}
        return {f"{name}:{port}" for name in names} | (names if port == 80 else set())


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if ":" in host else host


def _matches(entry: str, host: str, name: str) -> bool:
    if entry == "*":
        return True
    if entry.startswith("*."):
        return name.endswith(entry[1:])
    return entry == host or entry == name


class HostGuard:
    """ASGI middleware: applies trusted forwarded headers, then refuses hosts not allowed."""

    def __init__(self, app, *, trusted_proxies: list[str], allowed_hosts: list[str] | None, public_url: str | None):
        self.app = app
        self.trusted = TrustedProxies(trusted_proxies)
        self.allowed = AllowedHosts(allowed_hosts, public_url)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = scope.get("client")
        if client and client[0] in self.trusted:
            _apply_forwarded(scope, self.trusted)
        host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
        # HTTP/1.0 may omit Host; URLs then fall back to the address we listen on, which is ours.
        if host is not None and not self.allowed.allows(host, scope.get("server")):
            await send_error(send, ApiError(400, Code.HOST_NOT_ALLOWED, "The Host header names a host this server does not serve"))
            return
        await self.app(scope, receive, send)


def _apply_forwarded(scope, trusted: TrustedProxies) -> None:
    headers = {name: value.decode("latin-1") for name, value in scope["headers"]}
    forwarded = _last_forwarded_element(headers.get(b"forwarded"))
    proto = forwarded.get("proto") or _last(headers.get(b"x-forwarded-proto"))
    host = forwarded.get("host") or _last(headers.get(b"x-forwarded-host"))
    chain = [item.strip() for item in headers.get(b"x-forwarded-for", "").split(",") if item.strip()]
    if forwarded.get("for"):
        chain = [forwarded["for"]]
    if proto in ("http", "https"):
        scope["scheme"] = proto
    if host:
        scope["headers"] = [(name, value) for name, value in scope["headers"] if name != b"host"]
        scope["headers"].append((b"host", host.encode("latin-1")))
    # The client is the nearest address in the chain that is not one of our proxies.
    for address in reversed(chain):
        address = _strip_port(address)
        if address not in trusted:
            scope["client"] = (address, 0)
            break


def _last(value: str | None) -> str | None:
    if not value:
        return None
    return value.rpartition(",")[2].strip() or None


def _last_forwarded_element(value: str | None) -> dict[str, str]:
    """RFC 7239: ``Forwarded: for=1.2.3.4;proto=https;host=api.example.com, for=…``."""
    if not value:
        return {}
    pairs = {}
    for pair in value.rpartition(",")[2].split(";"):
        key, sep, item = pair.partition("=")
        if sep:
            pairs[key.strip().lower()] = item.strip().strip('"')
    return pairs


def _strip_port(address: str) -> str:
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.partition(":")[0] if address.count(":") == 1 else address
