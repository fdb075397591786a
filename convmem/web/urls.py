"""Absolute URLs on our own host: CONVMEM_PUBLIC_URL, else the scheme and Host of the request."""

from fastapi import Request


def public_base(request: Request) -> str:
    configured = request.app.state.settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def absolute(request: Request, path: str) -> str:
    return public_base(request) + path
