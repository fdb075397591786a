"""Absolute URLs on our own host: CONVMEM_PUBLIC_URL, else the scheme and Host of the request.

The request's Host is one web.hosts has allowed, and its scheme comes from a forwarded
header only when a trusted proxy sent it, so a client cannot move these URLs elsewhere.
"""

from fastapi import Request


def public_base(request: Request) -> str:
    configured = request.app.state.settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def absolute(request: Request, path: str) -> str:
    return public_base(request) + path
