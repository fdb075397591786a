"""The FastAPI application: routers, error handlers, health and metrics."""

import logging
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from convmem import __version__
from convmem.background.blobstore import BlobStore, open_blob_store, signing_key
from convmem.config import Settings, get_settings
from convmem.console.endpoints import install_console
from convmem.database.engine import Database
from convmem.database.faults import is_unavailable
from convmem.datasets.credentials import CredentialSeal
from convmem.datasets.service import SourceAccess
from convmem.kit.clock import WriteClock
from convmem.memory.embeddings import Embedder, embedder_for
from convmem.memory.memory_cache import MemoryCache
from convmem.profiles.addressing import ProfileMoved
from convmem.web.auth import current_principal
from convmem.web.compression import GZIP_MINIMUM_BYTES, DecompressRequests
from convmem.web.errors import ApiError, Code
from convmem.web.hosts import HostGuard
from convmem.web.idempotency import (
    IdempotentWrites,
    KeyTaken,
    answer_taken_key,
    document_in_openapi,
)
from convmem.web.observability import Metrics, RequestMiddleware, note_error
from convmem.web.pagination import PageTokens
from convmem.web.ratelimit import RateLimits
from convmem.web.redirects import moved_response
from convmem.web.validation import describe_validation_error

log = logging.getLogger("convmem")

# What a client should wait before trying again while the database is away: PostgreSQL
# restarts and failovers take seconds.
RETRY_AFTER_SECONDS = 5
# The embedding model loads in a few seconds (2.9 s on a busy 2-core machine).
MODEL_RETRY_AFTER_SECONDS = 1


def create_app(
    settings: Settings | None = None, db: Database | None = None, *, wall_clock: Callable[[], float] = time.time
) -> FastAPI:
    """The app over ``db`` with ``settings``; ``wall_clock`` is the time upload URLs are dated by."""
    settings = settings or get_settings()
    db = db or Database(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if app.state.embedder is not None:
            # Loaded beside the start-up, not on the first Recall; /readyz waits for it.
            threading.Thread(target=_load_model, args=(app.state.embedder,), name="embedder-load", daemon=True).start()
        worker = None
        if settings.embedded_worker:
            from convmem.background.jobs import JobEnv
            from convmem.background.worker import Worker
            from convmem.tasks import all_tasks

            env = JobEnv(db=db, settings=settings, clock=app.state.clock, blobs=app.state.blobs, embedder=app.state.embedder)
            worker = Worker(all_tasks(env))
            worker.start_thread()
        yield
        if worker:
            worker.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="convmem",
        version=__version__,
        description="A self-hostable server for the Twilio Conversation Memory API v1.",
        # Served by _install_docs, behind credentials unless CONVMEM_PUBLIC_DOCS.
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    metrics = Metrics()
    app.state.metrics = metrics
    app.state.blobs = open_blob_store(settings, wall_clock)
    app.state.store_deletion_hooks = _store_deletion_hooks(app.state.blobs)
    app.state.operation_lookups = _operation_lookups()
    app.state.identity_settings_hooks = _identity_settings_hooks()
    app.state.clock = WriteClock()
    app.state.embedder = embedder_for(settings)
    app.state.memory_cache = MemoryCache()
    app.state.rate_limits = RateLimits(settings)
    app.state.page_tokens = PageTokens(signing_key(settings))
    app.state.dataset_access = SourceAccess(CredentialSeal(signing_key(settings)), settings.resolved_dataset_file_root)

    _install_error_handlers(app)
    _install_routes(app)
    install_console(app)
    _install_docs(app, public=settings.public_docs)
    # The last added runs first: the body limit on the wire, then decompression (which
    # applies it again to what the body expands to), then idempotent writes (which see the
    # body decompressed and store the answer before it is compressed).
    app.add_middleware(IdempotentWrites, db=db)
    app.add_middleware(DecompressRequests, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)
    app.add_middleware(
        HostGuard,
        trusted_proxies=settings.trusted_proxy_list,
        allowed_hosts=settings.allowed_host_list,
        public_url=settings.public_url,
    )
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    return app


def _store_deletion_hooks(blobs: BlobStore) -> list:
    from convmem.imports.service import uploads_of_deleted_store
    from convmem.profiles import reresolve
    from convmem.traitgroups.purge import operations_of_deleted_store

    return [partial(uploads_of_deleted_store, blobs), operations_of_deleted_store, reresolve.operations_of_deleted_store]


def _identity_settings_hooks() -> list:
    """What follows a change of a store's identity resolution settings in its transaction."""
    from convmem.profiles.match_index import reindex_after_settings_change

    return [reindex_after_settings_change]


def _operation_lookups() -> list:
    """Work with operation ids of its own that the Operations endpoint answers for."""
    from convmem.bulk.endpoints import batch_as_operation

    return [batch_as_operation]


def _install_routes(app: FastAPI) -> None:
    from convmem.bulk.endpoints import router as bulk_router
    from convmem.datamappings.endpoints import router as datamappings_router
    from convmem.datamappings.endpoints import (
        suggestions_router as mapping_suggestions_router,
    )
    from convmem.datasets.endpoints import router as datasets_router
    from convmem.datasets.endpoints import syncs_router
    from convmem.history.endpoints import router as history_router
    from convmem.history.endpoints import settings_router as history_settings_router
    from convmem.identifiers.endpoints import router as identifiers_router
    from convmem.identity.endpoints import router as identity_router
    from convmem.imports.endpoints import router as imports_router
    from convmem.imports.endpoints import uploads_router
    from convmem.lookup.endpoints import router as lookup_router
    from convmem.memory.endpoints import router as memory_router
    from convmem.operations.endpoints import router as operations_router
    from convmem.portability.endpoints import router as portability_router
    from convmem.profiles.endpoints import router as profiles_router
    from convmem.profiles.identity_endpoints import reresolve_router
    from convmem.profiles.identity_endpoints import router as identity_decisions_router
    from convmem.stores.endpoints import router as stores_router
    from convmem.suggestions.endpoints import router as suggestions_router
    from convmem.traitgroups.endpoints import router as traitgroups_router
    from convmem.traits.endpoints import router as traits_router

    routers = (
        stores_router,
        reresolve_router,
        identity_router,
        history_settings_router,
        traitgroups_router,
        datamappings_router,
        datasets_router,
        syncs_router,
        mapping_suggestions_router,
        operations_router,
        lookup_router,
        history_router,
        identifiers_router,
        traits_router,
        memory_router,
        portability_router,
        bulk_router,
        imports_router,
        uploads_router,
        identity_decisions_router,
        suggestions_router,
        profiles_router,
    )
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        try:
            request.app.state.db.ping()
        except Exception as exc:  # any database failure means "not ready"
            log.warning("readiness check failed: %s", exc)
            return _error_response(_database_unavailable())
        embedder = request.app.state.embedder
        if embedder is not None and not embedder.loaded:
            return _error_response(
                ApiError(
                    503,
                    Code.SERVICE_UNAVAILABLE,
                    "The embedding model is loading; retry shortly",
                    {"Retry-After": str(MODEL_RETRY_AFTER_SECONDS)},
                )
            )
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False, dependencies=_credentials_unless(app.state.settings.public_metrics))
    def metrics(request: Request) -> Response:
        body, content_type = request.app.state.metrics.render()
        return Response(body, media_type=content_type)

    # FastAPI wraps included routers in private objects, so the 405 handler finds the
    # methods of a path in this table, made from the public routes of each router.
    routes = [route for route in app.router.routes if isinstance(route, APIRoute)] + [r for router in routers for r in router.routes]
    app.state.route_methods = [(route.path_regex, route.methods, set(route.param_convertors)) for route in routes]


def _credentials_unless(public: bool) -> list:
    return [] if public else [Depends(current_principal)]


def _install_docs(app: FastAPI, *, public: bool) -> None:
    guard = _credentials_unless(public)

    def openapi_with_extensions() -> dict:
        if app.openapi_schema is None:
            document_in_openapi(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi_with_extensions

    @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - Swagger UI")


def _allowed_methods(request: Request, *, literal_for: str | None = None) -> str:
    """The methods of the path; with ``literal_for``, only of routes where that path parameter
    is a fixed word (``Profiles/Lookup`` rather than ``Profiles/{profileId}``)."""
    path = request.url.path
    methods = {
        method
        for regex, route_methods, params in request.app.state.route_methods
        if regex.match(path) and literal_for not in params
        for method in route_methods
    }
    return ", ".join(sorted(methods))


def _misrouted_literal(request: Request, errors: list[dict]) -> ApiError | None:
    """``PATCH …/Profiles/Bulk`` reaches the ``{profileId}`` route, whose pattern refuses 'Bulk'.
    The path does exist, with other methods: that is a 405, as on any other path."""
    location = errors[0].get("loc", ())
    if errors[0].get("type") != "string_pattern_mismatch" or len(location) != 2 or location[0] != "path":
        return None
    allowed = _allowed_methods(request, literal_for=location[1])
    if not allowed:
        return None
    return ApiError(405, Code.METHOD_NOT_ALLOWED, "Method not allowed on this resource", {"Allow": allowed})


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _load_model(embedder: Embedder) -> None:
    try:
        embedder.load()
    except Exception:  # the server stays up, not ready, and says why
        log.exception("the embedding model could not be loaded: /readyz stays not ready")


def _database_unavailable() -> ApiError:
    return ApiError(
        503, Code.SERVICE_UNAVAILABLE, "Database is not reachable; retry later", {"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        note_error(request.scope, exc.message)
        return _error_response(exc)

    app.add_exception_handler(KeyTaken, answer_taken_key)

    @app.exception_handler(ProfileMoved)
    async def profile_moved(request: Request, exc: ProfileMoved) -> JSONResponse:
        return moved_response(request, exc.requested_sid, exc.canonical_sid)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        misrouted = _misrouted_literal(request, exc.errors())
        if misrouted:
            return _error_response(misrouted)
        code, message = describe_validation_error(exc.errors())
        note_error(request.scope, message)
        return _error_response(ApiError(400, code, message))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            error = ApiError(404, Code.NOT_FOUND, "No such resource: the path does not exist")
        elif exc.status_code == 405:
            error = ApiError(405, Code.METHOD_NOT_ALLOWED, "Method not allowed on this resource", {"Allow": _allowed_methods(request)})
        elif exc.status_code == 400:
            # FastAPI's answer to a JSON body it cannot decode at all, such as one that is not UTF-8.
            error = ApiError(400, Code.MALFORMED_JSON, "Request body is not valid JSON in UTF-8")
        else:
            error = ApiError(exc.status_code, exc.status_code, str(exc.detail))
        headers = dict(exc.headers or {})
        headers.update(error.headers)
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Also reached from authentication, so an outage is never mistaken for bad credentials.
        if is_unavailable(exc):
            log.warning("database unavailable: %s", exc)
            return _error_response(_database_unavailable())
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error_response(ApiError(500, Code.INTERNAL, "Internal Server Error"))
