"""Why two profiles look like one person: the pure core of suggestions. No I/O.

Three kinds of reason, each with a score out of 100:

* ``fuzzyIdentifier``: two values of one identifier type with ``fuzz.ratio >= SUGGEST_THRESHOLD``
  (whatever the type's rule: exact types too, and fuzzy types under their own bar). Score: the ratio.
* ``normalisedEqual``: two different values equal under a normalisation the rules don't apply
  (score ``NORMALISED_SCORE``): ``gmailDots`` (Gmail ignores dots and ``+tags`` in the local
  part), ``plusTag`` (other email domains: ``+tags`` only), ``phoneDigits`` (the last 9 digits
  of a value written with phone characters only: national prefix and formatting ignored),
  ``caseAccents`` (values of ``trim``/``none`` types equal after case folding, removing accents
  and collapsing spaces).
* ``sameName``: equal first and last names (case, accents and spaces ignored). The first name
  is a trait named ``firstName``, ``first_name`` or ``givenName`` in any group, the last name
  ``lastName``, ``last_name``, ``familyName`` or ``surname`` (case ignored; groups in name
  order, the first found). Score ``NAME_SCORE`` alone.

A pair's score is its strongest reason's, plus ``MORE_KINDS_BONUS`` for each other kind of
reason, at most 99: a name with a close email is likelier than either alone.

Candidates are found by blocking keys (``keys_of`` on the stored side, ``probe_keys`` on the
asking side): segments of identifier values (``identity/fuzzy_keys.py``) at
``SUGGEST_THRESHOLD``, normalised forms, the name. ``reasons`` then decides.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from convmem.identity import fuzzy_keys

SUGGEST_THRESHOLD = 85
NORMALISED_SCORE = 90
NAME_SCORE = 60
MORE_KINDS_BONUS = 10
MAX_SCORE = 99
FIRST_NAMES = ("firstname", "first_name", "givenname")
LAST_NAMES = ("lastname", "last_name", "familyname", "surname")
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
_PHONE_TEXT = re.compile(r"[\d\s+().-]+")
_KEY_LENGTH = 320


@dataclass(frozen=True)
class Facts:
    """What a profile is compared by: its identifiers (with their type's normalization) and name."""

    profile: int
    identifiers: tuple[tuple[str, str, str], ...]  # (idType, normalization, value)
    name: tuple[str, str] | None


def folded(text: str) -> str:
    """Case, accents and runs of spaces ignored."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def name_of(traits: dict) -> tuple[str, str] | None:
    for group in sorted(traits):
        named = {name.lower(): value for name, value in (traits[group] or {}).items() if isinstance(value, str)}
        first = next((named[n] for n in FIRST_NAMES if named.get(n, "").strip()), None)
        last = next((named[n] for n in LAST_NAMES if named.get(n, "").strip()), None)
        if first and last:
            return folded(first), folded(last)
    return None


def forms(normalization: str, value: str) -> list[tuple[str, str]]:
    """(normalisation, form) of ``value`` under the normalisations the rules don't apply."""
    found = []
    if normalization == "email":
        local, _, domain = value.partition("@")
        untagged = local.split("+", 1)[0]
        if domain in GMAIL_DOMAINS:
            found.append(("gmailDots", f"{untagged.replace('.', '')}@gmail.com"))
        else:
            found.append(("plusTag", f"{untagged}@{domain}"))
    digits = re.sub(r"\D", "", value)
    if 9 <= len(digits) <= 15 and _PHONE_TEXT.fullmatch(value):
        found.append(("phoneDigits", digits[-9:]))
    if normalization in ("trim", "none"):
        found.append(("caseAccents", folded(value)))
    return found


def keys_of(facts: Facts) -> set[str]:
    """The keys other profiles find this one by."""
    keys = set(_form_keys(facts))
    for id_type, _, value in facts.identifiers:
        keys.update(f"f:{id_type}:{key}" for key in fuzzy_keys.keys_of(value, SUGGEST_THRESHOLD))
    return {key[:_KEY_LENGTH] for key in keys}


def probe_keys(facts: Facts) -> set[str]:
    """The keys of every profile that may have a reason with this one."""
    keys = set(_form_keys(facts))
    for id_type, _, value in facts.identifiers:
        keys.update(f"f:{id_type}:{key}" for key in fuzzy_keys.probe(value, SUGGEST_THRESHOLD))
    return {key[:_KEY_LENGTH] for key in keys}


def _form_keys(facts: Facts) -> Iterable[str]:
    for _, normalization, value in facts.identifiers:
        for kind, form in forms(normalization, value):
            yield f"n:{kind}:{form}"
    if facts.name:
        yield "name:{}|{}".format(*facts.name)


def reasons(a: Facts, b: Facts) -> list[dict]:
    """Why ``a`` and ``b`` look like one person, strongest first; empty if they don't."""
    found: list[dict] = []
    for type_a, norm_a, value_a in a.identifiers:
        for type_b, norm_b, value_b in b.identifiers:
            if value_a == value_b:
                continue
            if type_a == type_b:
                ratio = fuzz.ratio(value_a, value_b)
                if ratio >= SUGGEST_THRESHOLD:
                    found.append({"kind": "fuzzyIdentifier", "idType": type_a, "a": value_a, "b": value_b, "score": round(ratio)})
                    continue
            shared = {kind for kind, form in forms(norm_a, value_a)} & {kind for kind, form in forms(norm_b, value_b)}
            for kind in sorted(shared):
                if dict(forms(norm_a, value_a))[kind] == dict(forms(norm_b, value_b))[kind]:
                    found.append(
                        {"kind": "normalisedEqual", "normalisation": kind, "idType": type_a, "otherIdType": type_b,
                         "a": value_a, "b": value_b, "score": NORMALISED_SCORE}
                    )
                    break
    if a.name and a.name == b.name:
        found.append({"kind": "sameName", "firstName": a.name[0], "lastName": a.name[1], "score": NAME_SCORE})
    return sorted(found, key=lambda reason: -reason["score"])


def score(found: list[dict]) -> int:
    kinds = {reason["kind"] for reason in found}
    return min(MAX_SCORE, max(reason["score"] for reason in found) + MORE_KINDS_BONUS * (len(kinds) - 1))
