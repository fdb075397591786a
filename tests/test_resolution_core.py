"""The pure identity-resolution core, driven directly."""

import pytest

from convmem.identity.resolution import (
    Held,
    IdentifierRule,
    InvalidIdentifier,
    ResolutionSettings,
    TraitValue,
    evictions,
    merge_trait_sets,
    normalize,
    resolve,
)

EMAIL = IdentifierRule("email", normalization="email")
PHONE = IdentifierRule("phone", normalization="phone")


def settings(*rules: IdentifierRule, matching: tuple[str, ...] | None = None) -> ResolutionSettings:
    return ResolutionSettings({r.id_type: r for r in rules}, matching or tuple(r.id_type for r in rules))


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("3175551234", "+13175551234"),
        ("(317) 555-1234", "+13175551234"),
        ("1-317-555-6789", "+13175556789"),
        ("+1 317 555 6789", "+13175556789"),
        ("13175556789", "+13175556789"),
        ("+44 20 7946 0958", "+442079460958"),
        ("442079460958", "+442079460958"),
        (" +33 1 42 68 53 00 ", "+33142685300"),
    ],
)
def test_phone_normalisation_follows_the_contract(raw, expected):
    assert normalize(PHONE, raw) == expected


@pytest.mark.parametrize("raw", ["555-1234", "not a phone", "+1 000 000 0000", ""])
def test_invalid_phones_are_refused(raw):
    with pytest.raises(InvalidIdentifier):
        normalize(PHONE, raw)


def test_email_trim_and_none_normalisation():
    assert normalize(EMAIL, " Ann.Lee @Example.COM ") == "ann.lee@example.com"
    with pytest.raises(InvalidIdentifier):
        normalize(EMAIL, "ann.example.com")
    assert normalize(IdentifierRule("crm", normalization="trim"), "  ID-7 ") == "ID-7"
    assert normalize(IdentifierRule("crm", normalization="none"), "  ID-7 ") == "  ID-7 "
    with pytest.raises(InvalidIdentifier):
        normalize(IdentifierRule("crm", normalization="trim"), "   ")


def test_no_match_creates_one_match_updates_several_merge_into_earliest():
    s = settings(EMAIL, PHONE)
    assert resolve(s, [("email", "a@x.io")], []).target is None
    held = [Held(5, "email", "a@x.io"), Held(3, "phone", "+13175551234")]
    one = resolve(s, [("email", "a@x.io")], held)
    assert (one.target, one.merged) == (5, ())
    both = resolve(s, [("email", "a@x.io"), ("phone", "+13175551234")], held)
    assert both.target == 3
    assert [(t.profile, t.id_type, t.value) for t in both.merged] == [(5, "email", "a@x.io")]


def test_types_outside_the_matching_rules_never_match():
    s = settings(EMAIL, PHONE, matching=("email",))
    assert resolve(s, [("phone", "+1")], [Held(1, "phone", "+1")]).target is None


def test_unique_value_held_outside_the_rules_is_a_conflict():
    s = settings(EMAIL, PHONE, matching=("email",))
    result = resolve(s, [("email", "new@x.io"), ("phone", "+1")], [Held(1, "phone", "+1")])
    assert result.conflicts == (Held(1, "phone", "+1"),)


def test_shared_values_match_only_in_compound():
    household = IdentifierRule("address", unique=False)
    s = settings(EMAIL, household)
    held = [Held(1, "address", "1 Main St"), Held(2, "address", "1 Main St"), Held(2, "email", "b@x.io")]
    assert resolve(s, [("address", "1 Main St")], held).target is None
    compound = resolve(s, [("address", "1 Main St"), ("email", "b@x.io")], held)
    assert (compound.target, compound.merged) == (2, ())


def test_compound_needs_two_values_on_the_same_profile():
    household, device = IdentifierRule("address", unique=False), IdentifierRule("device", unique=False)
    s = settings(household, device)
    held = [Held(1, "address", "A"), Held(2, "device", "D"), Held(3, "address", "A"), Held(3, "device", "D")]
    result = resolve(s, [("address", "A"), ("device", "D")], held)
    assert (result.target, result.merged) == (3, ())


def test_fuzzy_matches_within_threshold_only():
    name = IdentifierRule("name", fuzzy=True, threshold=85)
    s = settings(name)
    held = [Held(1, "name", "Jonathan Smith")]
    assert resolve(s, [("name", "Jonathon Smith")], held).target == 1
    assert resolve(s, [("name", "Maria Garcia")], held).target is None


def test_the_anchor_is_always_part_of_the_result():
    s = settings(EMAIL)
    assert resolve(s, [], [], anchor=9).target == 9
    result = resolve(s, [("email", "a@x.io")], [Held(4, "email", "a@x.io")], anchor=9)
    assert result.target == 4
    assert [(t.profile, t.value) for t in result.merged] == [(9, "a@x.io")]


def test_merge_cause_is_the_highest_priority_rule():
    s = settings(EMAIL, PHONE, matching=("phone", "email"))
    held = [Held(1, "email", "a@x.io"), Held(2, "email", "b@x.io"), Held(2, "phone", "+1")]
    result = resolve(s, [("email", "a@x.io"), ("email", "b@x.io"), ("phone", "+1")], held)
    assert result.target == 1
    assert [(t.profile, t.id_type) for t in result.merged] == [(2, "phone")]


def test_fifo_evicts_oldest_lifo_evicts_most_recently_stored():
    fifo = IdentifierRule("email", limit=3)
    lifo = IdentifierRule("email", limit=3, lifo=True)
    assert evictions(fifo, ["a", "b", "c"], ["d"]) == ["a"]
    assert evictions(lifo, ["a", "b", "c"], ["d"]) == ["c"]
    assert evictions(fifo, ["a", "b"], ["c"]) == []
    assert evictions(fifo, ["a", "b", "c", "d"], []) == ["a"]
    assert evictions(lifo, ["a", "b", "c", "d"], []) == ["d"]
    assert evictions(fifo, ["a"], ["b", "c", "d", "e"]) == ["a", "e"]


def test_trait_merge_newest_write_wins_ties_go_to_the_earlier_profile():
    survivor = {"Contact": {"city": TraitValue("Paris", "2026-01-01T00:00:00.000001+00:00", "s")}}
    newer = {"Contact": {"city": TraitValue("Rome", "2026-01-02T00:00:00.000000+00:00", "n"), "zip": TraitValue("1", "t", "n")}}
    tie = {"Contact": {"city": TraitValue("Oslo", "2026-01-02T00:00:00.000000+00:00", "t")}}
    merged = merge_trait_sets(survivor, [newer, tie])
    assert merged["Contact"]["city"].value == "Rome"
    assert merged["Contact"]["zip"].value == "1"
    assert merge_trait_sets(survivor, [])["Contact"]["city"].value == "Paris"
