"""The review queue of likely duplicates (a convmem extension, ``docs/extensions.md``).

The suggestions job (``job.py``) keeps the queue current: each profile a write touched gets
its blocking keys again and is compared (``signals.reasons``) with the profiles its keys find.
A review accepts a suggestion, which merges the pair through the write path, or rejects it,
which records a never-merge pair: resolution then keeps the two apart, and the pair is not
suggested again.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from convmem.database.tables import Profile, Suggestion, utcnow
from convmem.identity.resolution import Tie
from convmem.kit.clock import WriteClock
from convmem.kit.ids import Prefix, new_id
from convmem.profiles import repository as profiles_repository
from convmem.profiles.context import StoreContext
from convmem.profiles.never_merge import keep_apart
from convmem.profiles.writer import merge_pair
from convmem.suggestions import repository, signals
from convmem.web.errors import ApiError, Code, not_found
from convmem.web.pagination import Page, PageRequest, keyset

OPEN, ACCEPTED, REJECTED, CLOSED = "open", "accepted", "rejected", "closed"
SOURCE = "api:suggestion"


# Profiles compared with a touched one at most: a value shared by a crowd of near-identical
# values (b1@…, b2@…) must not make one refresh compare with the whole crowd.
MAX_CANDIDATES = 50


def facts_of(ctx: StoreContext, profiles: list[Profile], identifiers: dict[int, list]) -> dict[int, signals.Facts]:
    def normalization(id_type: str) -> str:
        return ctx.settings.rules[id_type].normalization if id_type in ctx.settings.rules else "none"

    return {
        profile.id: signals.Facts(
            profile.id,
            tuple((row.id_type, normalization(row.id_type), row.value) for row in identifiers.get(profile.id, [])),
            signals.name_of(profile.traits or {}),
        )
        for profile in profiles
    }


def refresh(session: Session, ctx: StoreContext, profile_pk: int, apart: set[tuple[int, int]]) -> None:
    """Bring the suggestions of a profile a write touched up to date. ``apart``: the store's
    never-merge pairs (live profiles, smaller first)."""
    profile = session.get(Profile, profile_pk)
    if profile is None:
        return  # deleted: its keys and suggestions went with it
    if profile.canonical_id is not None:
        repository.replace_keys(session, ctx.pk, profile_pk, ())
        _close(repository.open_of(session, profile_pk))
        return
    facts = facts_of(ctx, [profile], repository.identifiers_of(session, [profile_pk]))[profile_pk]
    repository.replace_keys(session, ctx.pk, profile_pk, signals.keys_of(facts))
    candidates = sorted(repository.profiles_with_keys(session, ctx.pk, signals.probe_keys(facts)) - {profile_pk})
    others = [
        other
        for other in repository.live_profiles(session, candidates[:MAX_CANDIDATES])
        if tuple(sorted((profile_pk, other.id))) not in apart
    ]
    found: set[int] = set()
    for other_pk, other_facts in facts_of(ctx, others, repository.identifiers_of(session, [o.id for o in others])).items():
        reasons = signals.reasons(facts, other_facts)
        if reasons:
            found.add(other_pk)
            _suggest(session, ctx.pk, profile_pk, other_pk, reasons)
    _close(s for s in repository.open_of(session, profile_pk) if {s.first_profile_id, s.second_profile_id} - {profile_pk} - found)


def _suggest(session: Session, store_pk: int, profile_pk: int, other_pk: int, reasons: list[dict]) -> None:
    low, high = sorted((profile_pk, other_pk))
    if low != profile_pk:
        reasons = [_swapped(reason) for reason in reasons]
    suggestion = repository.find_pair(session, low, high)
    if suggestion is None:
        now = utcnow()
        session.add(
            Suggestion(
                sid=new_id(Prefix.SUGGESTION), store_id=store_pk, first_profile_id=low, second_profile_id=high,
                score=signals.score(reasons), reasons=reasons, status=OPEN, created_at=now, updated_at=now,
            )
        )
        session.flush()
    elif suggestion.status in (OPEN, CLOSED) and (suggestion.reasons != reasons or suggestion.status == CLOSED):
        suggestion.reasons, suggestion.score, suggestion.status = reasons, signals.score(reasons), OPEN
        suggestion.updated_at = utcnow()


def _swapped(reason: dict) -> dict:
    """The reason as seen from the other profile: ``a`` is always the first profile's value."""
    if "a" not in reason:
        return reason
    swapped = {**reason, "a": reason["b"], "b": reason["a"]}
    if "otherIdType" in reason:
        swapped["idType"], swapped["otherIdType"] = reason["otherIdType"], reason["idType"]
    return swapped


def _close(suggestions) -> None:
    for suggestion in suggestions:
        suggestion.status, suggestion.updated_at = CLOSED, utcnow()


@dataclass(frozen=True)
class SuggestionView:
    sid: str
    profile_sids: tuple[str, str]
    score: int
    reasons: list[dict]
    status: str
    created_at: datetime
    updated_at: datetime


def list_page(session: Session, store_pk: int, status: str | None, page: PageRequest) -> tuple[list[SuggestionView], Page]:
    result = keyset(session, repository.listing(store_pk, status), [Suggestion.id], page, key_of=lambda row: row[0].id)
    return [_view(s, (first, second)) for s, first, second in result.items], result


def fetch(session: Session, store_pk: int, sid: str) -> SuggestionView:
    suggestion = _find(session, store_pk, sid)
    sids = repository.sids_of(session, [suggestion.first_profile_id, suggestion.second_profile_id])
    return _view(suggestion, (sids[suggestion.first_profile_id], sids[suggestion.second_profile_id]))


def accept(session: Session, ctx: StoreContext, sid: str, clock: WriteClock) -> tuple[SuggestionView, str, str]:
    """Merge the pair through the write path: (the suggestion, the surviving profile, the merged one)."""
    suggestion = _open(session, ctx.pk, sid)
    survivor, merged = suggestion.first_profile_id, suggestion.second_profile_id
    if profiles_repository.find_never_merge_pair(session, survivor, merged) is not None:
        raise ApiError(409, Code.IDENTIFIER_CONFLICT, f"Suggestion '{sid}': the two profiles are a never-merge pair")
    strongest = suggestion.reasons[0]
    cause = Tie(merged, strongest.get("idType", strongest["kind"])[:30], sid)
    outcome = merge_pair(session, ctx, survivor, merged, cause, source=SOURCE, clock=clock)
    suggestion.status, suggestion.updated_at = ACCEPTED, utcnow()
    return fetch(session, ctx.pk, sid), outcome.sid, outcome.merged[0]


def reject(session: Session, store_pk: int, sid: str) -> SuggestionView:
    """Keep the pair apart for good: a never-merge pair, which resolution honours."""
    suggestion = _open(session, store_pk, sid)
    keep_apart(session, store_pk, suggestion.first_profile_id, suggestion.second_profile_id, reason="rejected")
    suggestion.status, suggestion.updated_at = REJECTED, utcnow()
    return fetch(session, store_pk, sid)


def _find(session: Session, store_pk: int, sid: str) -> Suggestion:
    suggestion = repository.find(session, store_pk, sid)
    if suggestion is None:
        raise not_found(f"Suggestion '{sid}' was not found")
    return suggestion


def _open(session: Session, store_pk: int, sid: str) -> Suggestion:
    suggestion = _find(session, store_pk, sid)
    if suggestion.status != OPEN:
        raise ApiError(409, Code.CONFLICT, f"Suggestion '{sid}' is {suggestion.status}, not open")
    sides = [session.get(Profile, pk) for pk in (suggestion.first_profile_id, suggestion.second_profile_id)]
    if any(profile.canonical_id is not None for profile in sides):
        # The job closes it once it reads the merge from the history.
        raise ApiError(409, Code.CONFLICT, f"Suggestion '{sid}': a profile of the pair has merged into another since")
    return suggestion


def _view(suggestion: Suggestion, sids: tuple[str, str]) -> SuggestionView:
    return SuggestionView(
        suggestion.sid, sids, suggestion.score, suggestion.reasons, suggestion.status, suggestion.created_at, suggestion.updated_at
    )
