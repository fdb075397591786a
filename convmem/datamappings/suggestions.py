"""Mapping suggestions: which source column most likely feeds which trait. Pure functions, no I/O.

Three kinds of evidence, each cheap and explainable:
- the column's **name** against the trait's name, its description and a few well-known aliases
  (``zip`` is a postal code, ``surname`` a last name), compared with rapidfuzz after both are cut
  into lower-case words (``primary_email``, ``PrimaryEmail`` and ``primary email`` compare alike);
- the **kind of its sample values**: email addresses, phone numbers (phonenumbers), dates, numbers,
  booleans; an email column is offered to the email trait and to no first name;
- the **type** the source declares for it, which must fit the trait's ``dataType``.

Each column feeds at most one trait and each trait takes at most one column: the strongest pairs win.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from rapidfuzz import fuzz, process

MAX_SAMPLES = 20
# A kind must hold for this share of a column's non-empty samples to count.
_MAJORITY = 0.8
# Below this name similarity, only sample values (emails, phone numbers) make a column a candidate.
_NAME_FLOOR = 0.75
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_BOOLEANS = frozenset({"true", "false", "yes", "no", "y", "n", "t", "f"})
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+")

# Names a column is commonly given for the default Contact traits (beyond the trait's own name).
ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("e-mail", "mail", "email address", "primary email", "work email", "contact email"),
    "phone": ("phone number", "mobile", "cell", "telephone", "tel", "msisdn", "mobile number", "cell phone"),
    "firstName": ("given name", "forename", "fname", "first"),
    "lastName": ("surname", "family name", "lname", "last"),
    "street": ("address", "address line 1", "street address", "addr"),
    "city": ("town", "locality"),
    "state": ("region", "province", "county"),
    "postalCode": ("zip", "zip code", "postcode", "post code", "zipcode"),
    "country": ("country code", "nation"),
}
# The value kinds that name what a column holds, and the identifier type (or trait) they belong to.
_SPECIFIC = {"EMAIL": "email", "PHONE": "phone"}
# Which value kinds a trait of each dataType takes: a STRING trait any scalar (EMAIL and PHONE are strings).
_FITS = {
    "STRING": frozenset({"STRING", "EMAIL", "PHONE", "NUMBER", "BOOLEAN", "DATE"}),
    "NUMBER": frozenset({"NUMBER"}),
    "BOOLEAN": frozenset({"BOOLEAN"}),
    "ARRAY": frozenset({"ARRAY"}),
}


@dataclass(frozen=True)
class SourceColumn:
    """A column of the source: its name, the type the source declares (STRING, NUMBER, BOOLEAN, DATE,
    ARRAY; None when it declares none) and a few of its values."""

    name: str
    declared: str | None = None
    samples: tuple = ()


@dataclass(frozen=True)
class Suggestion:
    expression: str
    trait_group: str
    trait_name: str
    confidence: float
    rationale: str


@dataclass(frozen=True)
class _Evidence:
    kind: str | None  # what the samples are (EMAIL, PHONE, DATE, NUMBER, BOOLEAN, ARRAY, STRING), None without samples
    share: str  # "4/5", how many samples have that kind


def suggest(
    columns: Sequence[SourceColumn], schema: dict[str, dict[str, dict]], *, min_confidence: float = 0.6
) -> list[Suggestion]:
    """The best column for each trait of ``schema`` (group -> trait -> definition), strongest first.
    Pairs under ``min_confidence`` are left out."""
    targets = [_Target(group, trait, definition) for group, traits in schema.items() for trait, definition in traits.items()]
    # Every name of every trait, once, so rapidfuzz compares a column against all of them in one call.
    owners: dict[str, list[int]] = {}
    for index, target in enumerate(targets):
        for name in target.names:
            owners.setdefault(name, []).append(index)
    names = list(owners)
    candidates = []
    for column in columns:
        evidence = sample_kind(column.samples)
        similar = _similar_targets(words(column.name), names, [owners[name] for name in names])
        if evidence.kind in _SPECIFIC:  # a column of emails is a candidate for the email trait whatever its name
            for index, target in enumerate(targets):
                if target.kind == _SPECIFIC[evidence.kind]:
                    similar.setdefault(index, (0.0, target.names[0]))
        scored = [_score(column, evidence, targets[index], name_score, matched) for index, (name_score, matched) in similar.items()]
        scored = [suggestion for suggestion in scored if suggestion is not None and suggestion.confidence >= min_confidence]
        # A column is offered only the traits it fits best: when another column takes those,
        # it stays unmapped rather than fall back on a word it shares with a worse one
        # ("email_address" is no street for holding "address").
        best = max((suggestion.confidence for suggestion in scored), default=0.0)
        candidates.extend(suggestion for suggestion in scored if suggestion.confidence == best)
    candidates.sort(key=lambda s: (-s.confidence, s.expression, s.trait_group, s.trait_name))
    chosen, used_columns, used_traits = [], set(), set()
    for candidate in candidates:
        target = (candidate.trait_group, candidate.trait_name)
        if candidate.expression in used_columns or target in used_traits:
            continue
        chosen.append(candidate)
        used_columns.add(candidate.expression)
        used_traits.add(target)
    return chosen


def kind_fits(kind: str, data_type: str) -> bool:
    """Whether a trait of ``data_type`` takes values of ``kind``."""
    return kind in _FITS.get(data_type, frozenset())


def columns_from_csv(text: str, max_rows: int = MAX_SAMPLES) -> list[SourceColumn]:
    """The columns of a CSV sample: its header, and up to ``max_rows`` rows of values for each."""
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(rows, None)
    if not header:
        return []
    values: list[list[str]] = [[] for _ in header]
    for count, row in enumerate(rows):
        if count >= max_rows:
            break
        for index, value in enumerate(row[: len(header)]):
            values[index].append(value)
    return [SourceColumn(name=name.strip(), samples=tuple(values[i])) for i, name in enumerate(header) if name.strip()]


def words(name: str) -> str:
    """``primary_email``, ``PrimaryEmail``, ``primary-email`` -> ``primary email``."""
    return " ".join(word.lower() for word in _WORD.findall(name))


def sample_kind(samples: Iterable) -> _Evidence:
    """The kind most of the non-empty samples share, most specific first."""
    present = [s for s in samples if s is not None and not (isinstance(s, str) and not s.strip())][:MAX_SAMPLES]
    if not present:
        return _Evidence(None, "0/0")
    for kind, test in _KIND_TESTS:
        matching = sum(1 for sample in present if test(sample))
        if matching >= _MAJORITY * len(present):
            return _Evidence(kind, f"{matching}/{len(present)}")
    return _Evidence("STRING", f"{len(present)}/{len(present)}")


def _is_email(value) -> bool:
    return isinstance(value, str) and _EMAIL.match(value.strip()) is not None


def _is_phone(value) -> bool:
    """A possible number (phonenumbers; without a country code, as a US number) that is written like one:
    with its country code, with separators, or ten digits or more (not any seven-digit count)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    digits = sum(c.isdigit() for c in text)
    if digits < 7 or not (text.startswith("+") or any(c in text for c in " -().") or digits >= 10):
        return False
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else "US")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)


def _is_date(value) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return any(sep in text for sep in "-/.")
    except ValueError:
        pass
    for layout in _DATE_FORMATS:
        try:
            datetime.strptime(text, layout)
            return True
        except ValueError:
            continue
    return False


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    try:
        float(str(value).strip().replace(",", ""))
        return True
    except ValueError:
        return False


def _is_boolean(value) -> bool:
    return isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _BOOLEANS)


def _is_array(value) -> bool:
    return isinstance(value, list)


_KIND_TESTS = (
    ("ARRAY", _is_array),
    ("BOOLEAN", _is_boolean),
    ("EMAIL", _is_email),
    ("DATE", _is_date),
    ("PHONE", _is_phone),
    ("NUMBER", _is_number),
)


class _Target:
    """A trait a column may feed, with what a column feeding it may be called: the trait's name, its
    group's and its own together (``loyalty points``), its aliases and its description."""

    def __init__(self, group: str, trait: str, definition: dict):
        self.group, self.trait, self.definition = group, trait, definition
        names = [words(trait), f"{words(group)} {words(trait)}", *ALIASES.get(trait, ())]
        if definition.get("description"):
            names.append(definition["description"].lower())
        self.names = tuple(names)
        # The identifier type the trait's values are (email, phone), when they are one.
        self.kind = definition.get("idTypePromotion") or (trait if trait in _SPECIFIC.values() else None)


def _similar_targets(spoken: str, names: list[str], owners: list[list[int]]) -> dict[int, tuple[float, str]]:
    """The targets with a name at least ``_NAME_FLOOR`` alike to the column's words: their best
    similarity (0..1) and the name that has it.

    Words in another order match fully; a name whose words the column holds among others (``is vip``
    for ``vip``), or the other way round, at most 0.9."""
    best: dict[int, tuple[float, str]] = {}
    for scorer, weight in ((fuzz.token_sort_ratio, 1.0), (fuzz.token_set_ratio, 0.9)):
        cutoff = _NAME_FLOOR * 100 / weight
        for name, score, position in process.extract(spoken, names, scorer=scorer, limit=None, score_cutoff=cutoff):
            similarity = weight * score / 100
            for target in owners[position]:
                if similarity > best.get(target, (0.0, ""))[0]:
                    best[target] = (similarity, name)
    return best


def _score(column: SourceColumn, evidence: _Evidence, target: _Target, name_score: float, matched: str) -> Suggestion | None:
    data_type = target.definition.get("dataType", "STRING")
    if column.declared is not None and not kind_fits(column.declared, data_type):
        return None
    if evidence.kind is not None and not kind_fits(evidence.kind, data_type):
        return None
    if name_score >= 1:
        reasons = [f"its name is '{matched}'"]
    elif name_score > 0:
        reasons = [f"its name is close to '{matched}' ({name_score:.2f})"]
    else:
        reasons = []
    if evidence.kind in _SPECIFIC:
        if target.kind != _SPECIFIC[evidence.kind]:
            return None  # an email column feeds the email trait, not a first name
        confidence = 0.5 + 0.5 * max(name_score, 0.6)
        reasons.append(f"{evidence.share} sample values are {'email addresses' if evidence.kind == 'EMAIL' else 'phone numbers'}")
    elif target.kind is not None and evidence.kind is not None:
        return None  # the email or phone trait wants values that look like one
    elif name_score < _NAME_FLOOR:
        return None  # without values that say what the column is, a name this far off says nothing
    elif evidence.kind is not None:
        confidence = 0.85 * name_score + 0.15
        reasons.append(f"{evidence.share} sample values fit a {data_type} trait ({evidence.kind.lower()})")
    else:
        confidence = 0.9 * name_score
        reasons.append("no sample values to confirm it")
    rationale = f"Column '{column.name}' -> {target.group}.{target.trait}: " + "; ".join(reasons) + "."
    return Suggestion(column.name, target.group, target.trait, round(min(confidence, 1.0), 2), rationale[:512])
