"""The pure core keeps never-merge pairs apart (``resolve(..., apart=...)``)."""

from convmem.identity.resolution import (
    Held,
    IdentifierRule,
    ResolutionSettings,
    Tie,
    resolve,
)

EMAIL, PHONE = IdentifierRule("email"), IdentifierRule("phone")
ADDRESS = IdentifierRule("address", unique=False)
RULES = ResolutionSettings({r.id_type: r for r in (EMAIL, PHONE, ADDRESS)}, ("email", "phone", "address"))


def test_without_pairs_every_tied_profile_merges():
    held = [Held(1, "email", "a@x.io"), Held(2, "phone", "+13175550001")]
    decision = resolve(RULES, [("email", "a@x.io"), ("phone", "+13175550001")], held)
    assert decision.target == 1 and [t.profile for t in decision.merged] == [2] and decision.conflicts == ()


def test_the_strongest_tie_is_kept_and_a_unique_value_of_the_other_is_a_conflict():
    held = [Held(1, "phone", "+13175550001"), Held(2, "email", "a@x.io")]
    decision = resolve(RULES, [("email", "a@x.io"), ("phone", "+13175550001")], held, apart=[(1, 2)])
    # email has the higher priority: its holder (2) is kept although 1 is older
    assert decision.target == 2 and decision.merged == ()
    assert decision.conflicts == (Held(1, "phone", "+13175550001"),)


def test_the_addressed_profile_is_kept_before_any_tie():
    held = [Held(2, "email", "a@x.io")]
    decision = resolve(RULES, [("email", "a@x.io")], held, anchor=1, apart=[(2, 1)])
    assert decision.target == 1 and decision.merged == ()
    assert decision.conflicts == (Held(2, "email", "a@x.io"),)


def test_a_profile_left_alone_through_shared_values_is_no_conflict():
    wanted = [("email", "a@x.io"), ("address", "1 Main St"), ("phone", "+13175550001")]
    held = [Held(1, "email", "a@x.io"), Held(2, "address", "1 Main St"), Held(2, "phone", "+13175550009"),
            Held(3, "address", "1 Main St"), Held(3, "phone", "+13175550001")]
    decision = resolve(RULES, wanted, held, apart=[(1, 3)])
    # 3 holds the write's phone (unique): kept apart from 1, that is a conflict; 2 is only
    # reached through the shared address, so it does not tie at all.
    assert decision.target == 1 and decision.conflicts == (Held(3, "phone", "+13175550001"),)


def test_only_the_pair_is_kept_apart_the_rest_still_merge():
    held = [Held(1, "email", "a@x.io"), Held(2, "phone", "+13175550001"), Held(3, "address", "1 Main St"),
            Held(3, "email", "b@x.io")]
    wanted = [("email", "a@x.io"), ("phone", "+13175550001"), ("address", "1 Main St"), ("email", "b@x.io")]
    decision = resolve(RULES, wanted, held, apart=[(2, 3)])
    assert decision.target == 1
    assert decision.merged == (Tie(3, "email", "b@x.io"),)
    assert decision.conflicts == (Held(2, "phone", "+13175550001"),)
