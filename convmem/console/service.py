"""What each console page shows, read through the services the API uses (no SQL here).

Every function takes the request's session and a store the caller owns (checked by the
endpoint with the API's own ownership check), and returns plain data for a template.
"""

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.bulk import service as bulk
from convmem.console.graph import MergeGraph, layout
from convmem.database.tables import Import, Store
from convmem.datamappings.suggestions import SourceColumn, Suggestion, suggest
from convmem.history import service as history
from convmem.identifiers import service as identifiers
from convmem.identity.schemas import IdentityResolutionSettingsCore
from convmem.identity.service import current_settings
from convmem.imports import service as imports
from convmem.lookup import service as lookup
from convmem.memory import observations, summaries
from convmem.memory.embeddings import Embedder
from convmem.memory.memory_cache import MemoryCache
from convmem.memory.recall import Recalled, recall
from convmem.memory.schemas import MemoryRetrievalRequest
from convmem.memory.scope import resolve
from convmem.profiles import service as profiles
from convmem.profiles.addressing import find_canonical
from convmem.stores import service as stores
from convmem.traitgroups import service as traitgroups
from convmem.traitgroups.service import MAX_GROUPS_PER_STORE, store_schema
from convmem.web.auth import Principal
from convmem.web.errors import bad_request
from convmem.web.pagination import PageRequest

RECENT_PROFILES = 25
RECENT_MEMORIES = 20
RECENT_IMPORTS = 50
RECENT_BATCHES = 20
REPORT_ROWS_SHOWN = 200
# Past this many identity decisions the graph would not be readable: the table alone lists them.
MAX_GRAPH_DECISIONS = 40
RECENT_FAILURES = 20


def account_stores(session: Session, principal: Principal) -> list[Store]:
    return stores.account_stores(session, principal)


@dataclass(frozen=True)
class StoreOverview:
    store: Store
    settings: IdentityResolutionSettingsCore
    groups: list


def store_overview(session: Session, store: Store) -> StoreOverview:
    groups = traitgroups.list_page(session, store, PageRequest(size=MAX_GROUPS_PER_STORE, order="ASC")).items
    return StoreOverview(store, current_settings(store), groups)


@dataclass(frozen=True)
class ProfileSearch:
    """A search's answer: the profiles found, and how the value was read (normalised)."""

    profile_sids: list[str]
    normalized_value: str | None = None


def find_by_identifier(session: Session, store: Store, id_type: str, value: str) -> ProfileSearch:
    """The API's Lookup: the value normalised by the store's rule, matched as resolution matches."""
    found = lookup.lookup(session, store, id_type, value)
    return ProfileSearch(found.profile_sids, found.normalized_value)


def find_by_trait(session: Session, store: Store, group: str, name: str, value: str) -> ProfileSearch:
    return ProfileSearch(profiles.find_by_trait(session, store.id, group, name, value))


def recent_profiles(session: Session, store: Store) -> list[str]:
    page = profiles.list_page(session, store.id, PageRequest(size=RECENT_PROFILES))
    return [row.sid for row in page.items]


def canonical_sid(session: Session, store: Store, profile_sid: str) -> str:
    """The live profile a (possibly merged) profile id stands for."""
    return find_canonical(session, store.id, profile_sid, follow=True).sid


@dataclass(frozen=True)
class ProfilePage:
    sid: str
    created_at: datetime
    traits: list[history.ValueOrigin]
    identifiers: list[identifiers.IdentifierOrigin]
    observations: list
    summaries: list
    merges: list[profiles.MergeRecord]
    graph: MergeGraph | None
    undoable: set[str]


def profile_page(session: Session, store: Store, profile_sid: str) -> ProfilePage:
    """A live profile: its values with where they came from, its memories and its merge ledger."""
    profile, origins = history.provenance(session, store.id, profile_sid)
    scope = resolve(session, store, profile_sid, follow=False)
    newest = PageRequest(size=RECENT_MEMORIES)
    merges = profiles.merge_history(session, store.id, profile_sid)
    return ProfilePage(
        sid=profile_sid,
        created_at=profile.created_at,
        traits=sorted(origins, key=lambda origin: (origin.group, origin.name)),
        identifiers=identifiers.list_with_origins(session, store.id, profile_sid),
        observations=observations.list_page(session, scope, newest).rows,
        summaries=summaries.list_page(session, scope, newest).rows,
        merges=merges,
        graph=layout(profile_sid, merges) if len(merges) <= MAX_GRAPH_DECISIONS else None,
        undoable=_undoable(profile_sid, merges),
    )


def _undoable(profile_sid: str, merges: list[profiles.MergeRecord]) -> set[str]:
    """The profiles merged straight into this one and not brought back out since: those the
    unmerge extension can undo from this page."""
    merged = set()
    for record in merges:
        if record.kind == "merge" and record.into_sid == profile_sid:
            merged.add(record.merged_sid)
        elif record.kind == "unmerge":
            merged.discard(record.merged_sid)
    return merged


@dataclass(frozen=True)
class ImportsPage:
    imports: list[Import]
    batches: list[bulk.Batch]
    traits: list[tuple[str, str]]


def imports_page(session: Session, store: Store) -> ImportsPage:
    schema = store_schema(session, store.id)
    traits = [(group, name) for group, named in schema.items() for name in named]
    return ImportsPage(imports.latest(session, store, RECENT_IMPORTS), bulk.latest(session, store, RECENT_BATCHES), traits)


@dataclass(frozen=True)
class ImportPage:
    imported: Import
    errors: list


def import_page(session: Session, store: Store, import_sid: str) -> ImportPage:
    imported = imports.get(session, store, import_sid)
    return ImportPage(imported, imports.first_row_errors(session, imported, REPORT_ROWS_SHOWN))


def import_progress(session: Session, store: Store, import_sid: str) -> Import:
    return imports.get(session, store, import_sid)


def suggested_mappings(session: Session, store: Store, columns: list[str]) -> list[Suggestion]:
    """The trait each CSV column most likely feeds, judged by its name (a data mapping's
    suggestions, without sample values), in the file's column order."""
    found = suggest([SourceColumn(name) for name in columns], store_schema(session, store.id))
    return sorted(found, key=lambda suggestion: columns.index(suggestion.expression))


def recall_memories(
    session: Session,
    store: Store,
    profile_sid: str,
    query: str,
    embedder: Embedder | None,
    *,
    memory_cache: MemoryCache | None = None,
) -> Recalled:
    try:
        request = MemoryRetrievalRequest(query=query)
    except ValidationError as error:
        raise bad_request(f"Invalid 'query': {error.errors()[0]['msg']}") from None
    scope = resolve(session, store, profile_sid, follow=True)
    return recall(session, scope, request, embedder, memory_cache=memory_cache)


@dataclass(frozen=True)
class Health:
    queue: list[jobs.QueueCount]
    failures: list[tuple[object, str]]


def health(session: Session, principal: Principal) -> Health:
    """The account's background work: jobs by kind and status, and the latest that failed."""
    owned = account_stores(session, principal)
    sid_of = {store.id: store.sid for store in owned}
    pks = list(sid_of)
    failures = [(job, sid_of[job.store_id]) for job in jobs.recent_failures(session, pks, RECENT_FAILURES)]
    return Health(jobs.queue_counts(session, pks), failures)


@dataclass(frozen=True)
class RouteFigures:
    method: str
    route: str
    requests: int
    mean_ms: float


@dataclass(frozen=True)
class RequestFigures:
    """What ``/metrics`` counts, read from the same registry: requests by status, and by route."""

    by_status: list[tuple[str, int]]
    routes: list[RouteFigures]


def request_figures(registry) -> RequestFigures:
    by_status: dict[str, int] = {}
    counts: dict[tuple[str, str], float] = {}
    seconds: dict[tuple[str, str], float] = {}
    for family in registry.collect():
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "convmem_requests_total":
                by_status[labels["status"]] = by_status.get(labels["status"], 0) + int(sample.value)
            elif sample.name == "convmem_request_seconds_count":
                counts[(labels["method"], labels["route"])] = sample.value
            elif sample.name == "convmem_request_seconds_sum":
                seconds[(labels["method"], labels["route"])] = sample.value
    routes = [
        RouteFigures(method, route, int(count), round(1000 * seconds.get((method, route), 0.0) / count, 1))
        for (method, route), count in counts.items()
        if count
    ]
    routes.sort(key=lambda figures: -figures.requests)
    return RequestFigures(sorted(by_status.items()), routes)
