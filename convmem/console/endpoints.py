"""``/console``: the pages, their forms, and the little JSON the pages' scripts use.

Thin like every endpoint: check the session, open the unit of work, take the caller's store
with the API's own ownership check (another account's store is 404), call
``console.service`` or a domain service, render. None of it is in the OpenAPI document.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from convmem.background.blobstore import signing_key
from convmem.console import service
from convmem.console.signin import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SIGN_IN_COOKIE,
    SIGN_IN_SECONDS,
    ConsoleSessions,
    ConsoleUser,
    CsrfRefused,
    SignInRequired,
    check_csrf,
    console_user,
)
from convmem.database.engine import Database
from convmem.database.tables import Store
from convmem.imports import service as imports
from convmem.imports.schemas import CreateImportRequest
from convmem.kit.ids import PATTERNS
from convmem.kit.text import storable
from convmem.kit.timefmt import iso
from convmem.profiles.context import load_context
from convmem.profiles.unmerge import unmerge
from convmem.web.auth import authenticate, stored_credential
from convmem.web.dependencies import (
    AppDatabase,
    ReadSession,
    WriteClockDep,
    find_owned_store,
    lock_owned_store,
)
from convmem.web.errors import ApiError, Code, bad_request, not_found
from convmem.web.urls import public_base

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["iso"] = lambda value: iso(value) if value else ""

pages = APIRouter(prefix="/console", include_in_schema=False)
scripts = APIRouter(prefix="/console/api", include_in_schema=False)

SignedIn = Annotated[ConsoleUser, Depends(console_user)]


def console_write_session(db: AppDatabase) -> Iterator[Session]:
    """One write transaction, committed before the answer is sent (as ``WriteSession``)."""
    with db.writing() as session:
        yield session


ConsoleWriteSession = Annotated[Session, Depends(console_write_session, scope="function")]


# Pages load only their own scripts and styles, may not be framed (the unmerge button), and are
# not cached (they show customer data). The import script PUTs files to the blob store's upload
# URL: this server's own, or S3's over https.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' https:; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


def _page(
    request: Request, template: str, user: ConsoleUser | None, status_code: int = 200, headers: dict | None = None, **context
) -> HTMLResponse:
    context |= {"user": user, "csrf_field": CSRF_FIELD, "csrf_token": user.csrf_token if user else ""}
    return templates.TemplateResponse(request, template, context, status_code=status_code, headers=PAGE_HEADERS | (headers or {}))


def _store(session: Session, user: ConsoleUser, store_sid: str) -> Store:
    # An id no store can have is not looked up (it may hold what the database cannot compare).
    if not PATTERNS["storeId"].match(store_sid):
        raise not_found(f"Store '{store_sid}' was not found")
    return find_owned_store(session, user.principal, store_sid)


def _locked_store(db: Database, session: Session, user: ConsoleUser, store_sid: str) -> Store:
    if not PATTERNS["storeId"].match(store_sid):
        raise not_found(f"Store '{store_sid}' was not found")
    return lock_owned_store(db, session, user.principal, store_sid)


def _profile_sid(profile_sid: str) -> str:
    if not PATTERNS["profileId"].match(profile_sid):
        raise not_found(f"Profile '{profile_sid}' was not found")
    return profile_sid


def _searchable(**fields: str) -> None:
    """Search fields every backend can compare (the API refuses the same in its bodies)."""
    for name, value in fields.items():
        try:
            storable(value)
        except ValueError as problem:
            raise bad_request(f"Invalid '{name}': {problem}") from None


def _count_as(request: Request, user: ConsoleUser, method: str, api_path: str) -> None:
    """Count the page's work against the account's limit for the API call it stands for
    (a Recall, an import), on top of the page request itself."""
    request.app.state.rate_limits.count_request(user.principal.account_sid, method, api_path)


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, one value per field."""
    fields = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _back_to(target: str | None) -> str:
    """Where to go after signing in: only a console page of this site."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
        return "/console/stores"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _secure(request: Request) -> bool:
    return public_base(request).startswith("https://")


# --- signing in -----------------------------------------------------------------------------


@pages.get("")
def console_home() -> RedirectResponse:
    return RedirectResponse("/console/stores", status_code=303)


def _sign_in_form(request: Request, status_code: int = 200, error: str | None = None, username: str = "") -> HTMLResponse:
    cookie, nonce = request.app.state.console_sessions.new_sign_in()
    response = _page(
        request,
        "sign_in.html",
        None,
        status_code,
        nonce=nonce,
        error=error,
        username=username,
        next=_back_to(request.query_params.get("next")),
    )
    response.set_cookie(
        SIGN_IN_COOKIE, cookie, max_age=SIGN_IN_SECONDS, path="/console", httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@pages.get("/sign-in")
def sign_in_page(request: Request) -> HTMLResponse:
    return _sign_in_form(request)


@pages.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """The form's SID and secret, checked as an API request's Basic credentials are, and
    counted against the address like failed API sign-ins."""
    form = await _form(request)
    sessions: ConsoleSessions = request.app.state.console_sessions
    if not sessions.sign_in_matches(request.cookies.get(SIGN_IN_COOKIE), form.get("nonce", "")):
        return _sign_in_form(request, 400, "The sign-in form expired; please try again.", form.get("username", ""))
    rate_limits = request.app.state.rate_limits
    address = request.client.host if request.client else ""
    rate_limits.refuse_blocked_address(address)
    username, secret = form.get("username", "").strip(), form.get("secret", "")
    try:
        with request.app.state.db.reading() as session:
            authenticate(session, username, secret)
            verifier, _principal = stored_credential(session, username)
    except ApiError:
        rate_limits.count_failed_auth(address)
        return _sign_in_form(request, 401, "Those credentials were not accepted.", username)
    response = RedirectResponse(_back_to(form.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sessions.seal(username, verifier),
        max_age=SESSION_SECONDS,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/console")
    return response


@pages.post("/sign-out")
async def sign_out(request: Request, user: SignedIn) -> RedirectResponse:
    check_csrf(user, (await _form(request)).get(CSRF_FIELD))
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


# --- stores ---------------------------------------------------------------------------------


@pages.get("/stores")
def stores_page(request: Request, user: SignedIn, session: ReadSession) -> HTMLResponse:
    return _page(request, "stores.html", user, stores=service.account_stores(session, user.principal))


@pages.get("/stores/{store_sid}")
def store_page(request: Request, user: SignedIn, session: ReadSession, store_sid: str) -> HTMLResponse:
    overview = service.store_overview(session, _store(session, user, store_sid))
    return _page(request, "store.html", user, store=overview.store, overview=overview, suggestions=_suggestions_path(request))


def _suggestions_path(request: Request) -> str | None:
    """The review queue of suggested merges, where this deployment has it (an identity extension)."""
    for route in request.app.routes:
        path = getattr(route, "path", "")
        if path.startswith("/v1/Stores/{storeId}/") and path.endswith("Suggestions"):
            return path
    return None


# --- profiles -------------------------------------------------------------------------------


@pages.get("/stores/{store_sid}/profiles")
def profiles_page(
    request: Request,
    user: SignedIn,
    session: ReadSession,
    store_sid: str,
    idType: str = "",
    value: str = "",
    trait: str = "",
    traitValue: str = "",
) -> HTMLResponse:
    store = _store(session, user, store_sid)
    overview = service.store_overview(session, store)
    found, problem = None, None
    try:
        _searchable(idType=idType, value=value, trait=trait, traitValue=traitValue)
        if idType and value:
            found = service.find_by_identifier(session, store, idType, value)
        elif trait and traitValue:
            group, _, name = trait.partition(".")
            found = service.find_by_trait(session, store, group, name, traitValue)
    except ApiError as error:
        # A value the store's rule refuses, an idType it does not have: said beside the form.
        problem = error.message
    return _page(
        request,
        "profiles.html",
        user,
        store=store,
        overview=overview,
        found=found,
        problem=problem,
        recent=None if found or problem else service.recent_profiles(session, store),
        query={"idType": idType, "value": value, "trait": trait, "traitValue": traitValue},
    )


@pages.get("/stores/{store_sid}/profiles/{profile_sid}")
def profile_page(request: Request, user: SignedIn, session: ReadSession, store_sid: str, profile_sid: str) -> Response:
    store = _store(session, user, store_sid)
    canonical = service.canonical_sid(session, store, _profile_sid(profile_sid))
    if canonical != profile_sid:
        return RedirectResponse(f"/console/stores/{store.sid}/profiles/{canonical}?from={profile_sid}", status_code=303)
    view = service.profile_page(session, store, profile_sid)
    return _page(request, "profile.html", user, store=store, profile=view, merged_from=request.query_params.get("from"))


@pages.post("/stores/{store_sid}/profiles/{profile_sid}/unmerge")
async def unmerge_profile(
    request: Request,
    user: SignedIn,
    db: AppDatabase,
    session: ConsoleWriteSession,
    clock: WriteClockDep,
    store_sid: str,
    profile_sid: str,
) -> RedirectResponse:
    form = await _form(request)
    check_csrf(user, form.get(CSRF_FIELD))
    store = _locked_store(db, session, user, store_sid)
    merged_sid = _profile_sid(form.get("merged", ""))
    unmerge(session, load_context(session, store), clock, _profile_sid(profile_sid), merged_sid)
    return RedirectResponse(f"/console/stores/{store.sid}/profiles/{profile_sid}?unmerged={merged_sid}", status_code=303)


# --- imports and bulk -----------------------------------------------------------------------


@pages.get("/stores/{store_sid}/imports")
def imports_page(request: Request, user: SignedIn, session: ReadSession, store_sid: str) -> HTMLResponse:
    store = _store(session, user, store_sid)
    return _page(request, "imports.html", user, store=store, view=service.imports_page(session, store))


@pages.get("/stores/{store_sid}/imports/{import_sid}")
def import_page(request: Request, user: SignedIn, session: ReadSession, store_sid: str, import_sid: str) -> HTMLResponse:
    store = _store(session, user, store_sid)
    view = service.import_page(session, store, _import_sid(import_sid))
    return _page(request, "import.html", user, store=store, view=view)


def _import_sid(import_sid: str) -> str:
    if not PATTERNS["importId"].match(import_sid):
        raise not_found(f"Import '{import_sid}' was not found")
    return import_sid


class ImportProgressBody(BaseModel):
    status: str
    processedRows: int
    totalRows: int | None
    errors: int
    warnings: int
    failureReason: str | None
    finished: bool


@scripts.get("/stores/{store_sid}/imports/{import_sid}", response_model=ImportProgressBody)
def import_progress(user: SignedIn, session: ReadSession, store_sid: str, import_sid: str) -> ImportProgressBody:
    imported = service.import_progress(session, _store(session, user, store_sid), _import_sid(import_sid))
    return ImportProgressBody(
        status=imported.status,
        processedRows=imported.processed_rows,
        totalRows=imported.total_rows,
        errors=imported.errors,
        warnings=imported.warnings,
        failureReason=imported.failure or None,
        finished=imported.status in ("COMPLETED", "FAILED"),
    )


class ColumnsBody(BaseModel):
    columns: list[str] = Field(max_length=100)


class SuggestionBody(BaseModel):
    columnName: str
    traitGroup: str
    traitName: str
    confidence: float
    rationale: str


class SuggestionsBody(BaseModel):
    mappings: list[SuggestionBody]


@scripts.post("/stores/{store_sid}/imports/suggestions", response_model=SuggestionsBody)
def suggest_mappings(request: Request, user: SignedIn, session: ReadSession, store_sid: str, body: ColumnsBody = Body()):
    check_csrf(user, request.headers.get(CSRF_HEADER))
    found = service.suggested_mappings(session, _store(session, user, store_sid), body.columns)
    return SuggestionsBody(
        mappings=[
            SuggestionBody(
                columnName=m.expression, traitGroup=m.trait_group, traitName=m.trait_name, confidence=m.confidence, rationale=m.rationale
            )
            for m in found
        ]
    )


class ImportStarted(BaseModel):
    importId: str
    uploadUrl: str
    page: str


@scripts.post("/stores/{store_sid}/imports", status_code=201, response_model=ImportStarted)
def start_import(
    request: Request,
    user: SignedIn,
    db: AppDatabase,
    session: ConsoleWriteSession,
    store_sid: str,
    body: CreateImportRequest = Body(),
) -> ImportStarted:
    """The API's import create; the page's script then PUTs the file to the upload URL."""
    check_csrf(user, request.headers.get(CSRF_HEADER))
    _count_as(request, user, "POST", f"/v1/Stores/{store_sid}/Profiles/Imports")
    store = _locked_store(db, session, user, store_sid)
    imported = imports.create(session, user.principal, store, body)
    url = request.app.state.blobs.upload_url(public_base(request), imported.sid, imported.blob_key, imported.file_size)
    return ImportStarted(importId=imported.sid, uploadUrl=url, page=f"/console/stores/{store.sid}/imports/{imported.sid}")


# --- memory ---------------------------------------------------------------------------------


@pages.get("/stores/{store_sid}/memory")
def memory_page(
    request: Request, user: SignedIn, session: ReadSession, store_sid: str, profile: str = "", query: str = ""
) -> HTMLResponse:
    store = _store(session, user, store_sid)
    found, problem = None, None
    if profile:
        try:
            _searchable(query=query)
            profile_sid = _profile_sid(profile.strip())
            _count_as(request, user, "POST", f"/v1/Stores/{store.sid}/Profiles/{profile_sid}/Recall")
            found = service.recall_memories(
                session,
                store,
                profile_sid,
                query,
                request.app.state.embedder,
                memory_cache=request.app.state.memory_cache,
            )
        except ApiError as error:
            problem = error.message
    return _page(request, "memory.html", user, store=store, found=found, problem=problem, profile=profile, query=query)


# --- health ---------------------------------------------------------------------------------


@pages.get("/health")
def health_page(request: Request, user: SignedIn, session: ReadSession) -> HTMLResponse:
    return _page(
        request,
        "health.html",
        user,
        health=service.health(session, user.principal),
        figures=service.request_figures(request.app.state.metrics.registry),
    )


# --- wiring ---------------------------------------------------------------------------------


def install_console(app: FastAPI) -> None:
    """The console's routes, static files and error pages on ``app``."""
    app.state.console_sessions = ConsoleSessions(signing_key(app.state.settings))
    app.include_router(pages)
    app.include_router(scripts)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    api_error_answer = app.exception_handlers[ApiError]

    async def sign_in_required(request: Request, _exc: SignInRequired) -> Response:
        if request.url.path.startswith(scripts.prefix):
            error = ApiError(401, Code.UNAUTHORIZED, "Sign in to the console first")
            return JSONResponse(error.body(), status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/console/sign-in?next={quote(target)}", status_code=303)

    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        return await console_error(request, ApiError(403, Code.FORBIDDEN, "The form's CSRF token is missing or wrong; reload the page"))

    async def console_error(request: Request, exc: ApiError) -> Response:
        path = request.url.path
        if not path.startswith(pages.prefix + "/") or path.startswith(scripts.prefix):
            return await api_error_answer(request, exc)
        return _page(request, "error.html", None, exc.status, headers=exc.headers, error=exc)

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(ApiError, console_error)
