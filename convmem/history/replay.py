"""What a profile was: its history's events folded in order. Pure, no I/O."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from convmem.history.record import IDENTIFIER, PROFILE, TRAIT


@dataclass
class State:
    traits: dict[str, dict[str, object]] = field(default_factory=dict)
    identifiers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.traits and not self.identifiers


def replay(events: Iterable) -> State:
    """The state after ``events`` (rows of ``profile_history``, oldest first)."""
    state = State()
    for event in events:
        if event.kind == PROFILE:
            state = _whole(event.new_value)
        elif event.kind == TRAIT:
            _apply_trait(state, event.subject_group, event.subject_name, event.new_value)
        elif event.kind == IDENTIFIER:
            _apply_identifier(state, event.subject_group, event.subject_name, present=event.new_value is not None)
    return state


def as_whole(state: State) -> dict:
    """``state`` as the ``new_value`` of a ``profile`` event (see ``record.whole_state``)."""
    pairs = [[id_type, value] for id_type, values in state.identifiers.items() for value in values]
    return {"traits": state.traits, "identifiers": pairs}


def _whole(value: dict) -> State:
    state = State(traits={group: dict(named) for group, named in value["traits"].items()})
    for id_type, identifier in value["identifiers"]:
        _apply_identifier(state, id_type, identifier, present=True)
    return state


def _apply_trait(state: State, group: str, name: str, value: object) -> None:
    if value is None:
        named = state.traits.get(group, {})
        named.pop(name, None)
        if not named:
            state.traits.pop(group, None)
    else:
        state.traits.setdefault(group, {})[name] = value


def _apply_identifier(state: State, id_type: str, value: str, *, present: bool) -> None:
    values = state.identifiers.setdefault(id_type, [])
    if present and value not in values:
        values.append(value)
    elif not present and value in values:
        values.remove(value)
    if not values:
        del state.identifiers[id_type]
