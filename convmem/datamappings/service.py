"""Data mapping rules: names unique per store, every mapped trait defined and mapped once, sources that fit.

A mapping's ``mappingTo`` is checked against the store's trait schema and against its source:
- INGRESS: every ``expression`` is one of ``mappingFrom.columns`` (the columns arriving with the data);
- DATASET_*: every ``expression`` is a field of the dataset whose type fits the trait's ``dataType``,
  as far as ``dataset_fields`` knows the dataset (the datasets domain answers it).
"""

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from convmem.database.tables import DataMapping, Store, utcnow
from convmem.datamappings import repository
from convmem.datamappings.schemas import (
    DATASET_TYPES,
    CreateDataMappingInput,
    DataMappingCore,
    DataMappingToTraits,
)
from convmem.datasets.service import check_mapping_source
from convmem.kit.ids import PATTERNS, Prefix, new_id
from convmem.traitgroups.service import store_schema
from convmem.web.errors import ApiError, Code, bad_request, not_found
from convmem.web.pagination import Page, PageRequest, keyset

# Which values of a source field a trait of each dataType takes. A STRING trait takes any scalar
# (a number or a date is written as its text); the others need their own kind.
_FITS: dict[str, frozenset[str]] = {
    "STRING": frozenset({"STRING", "NUMBER", "BOOLEAN", "DATE"}),
    "NUMBER": frozenset({"NUMBER"}),
    "BOOLEAN": frozenset({"BOOLEAN"}),
    "ARRAY": frozenset({"ARRAY"}),
}


@dataclass(frozen=True)
class MappedTrait:
    """One item of a ``mappingTo`` being checked: where it is in the body, its source expression, and the
    definition of the trait it writes."""

    where: str
    expression: str
    definition: dict


def check_dataset_mapping(session: Session, store: Store, dataset_id: str, items: list[MappedTrait]) -> None:
    """Raise a 400 unless the store has the dataset ``dataset_id`` and every item's expression reads it in
    a way whose values fit the trait (``value_kind_fits``).

    The datasets domain answers it (``datasets.service.check_mapping_source``)."""
    check_mapping_source(session, store, dataset_id, items)


def value_kind_fits(kind: str, data_type: str) -> bool:
    """Whether a trait of ``data_type`` takes values of a source field of ``kind`` (STRING, NUMBER,
    BOOLEAN, DATE or ARRAY)."""
    return kind in _FITS.get(data_type, frozenset())


def list_page(session: Session, store: Store, page: PageRequest, mapping_type: str | None) -> Page:
    """A page of the store's mappings (of one ``mappingFrom.type`` when given), in creation order."""
    stmt = repository.list_page_query(store.id, mapping_type)
    found = keyset(session, stmt, [DataMapping.id], page, key_of=lambda row: row.id)
    return replace(found, items=[row.DataMapping for row in found.items])


def get_mapping(session: Session, store: Store, mapping_sid: str) -> DataMapping:
    mapping = repository.find_by_sid(session, store.id, mapping_sid) if PATTERNS["dataMappingId"].match(mapping_sid) else None
    if mapping is None:
        raise not_found(f"Data mapping '{mapping_sid}' was not found in store '{store.sid}'")
    return mapping


def create_mapping(session: Session, store: Store, body: CreateDataMappingInput) -> DataMapping:
    if repository.find_by_name(session, store.id, body.displayName) is not None:
        raise ApiError(409, Code.CONFLICT, _duplicate(body.displayName))
    source = body.mappingFrom.model_dump()
    mapping_to = _checked_mapping_to(session, store, source, body.mappingTo)
    now = utcnow()
    mapping = DataMapping(
        sid=new_id(Prefix.DATA_MAPPING),
        store_id=store.id,
        display_name=body.displayName,
        description=body.description,
        type=source["type"],
        dataset_id=source.get("datasetId"),
        mapping_from=source,
        mapping_to=mapping_to,
        is_enabled=body.isEnabled,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(mapping)
    session.flush()
    return mapping


def patch_mapping(session: Session, store: Store, mapping: DataMapping, body: DataMappingCore) -> None:
    """Change the fields sent; a ``mappingTo`` sent replaces the whole list. ``version`` goes up by one
    when a value changes; a body changing nothing is a successful no-op."""
    sent = body.model_fields_set
    changes: dict = {}
    if "displayName" in sent:
        if body.displayName is None:
            raise bad_request("Invalid 'displayName': it cannot be removed")
        if body.displayName != mapping.display_name:
            if repository.find_by_name(session, store.id, body.displayName) is not None:
                raise bad_request(_duplicate(body.displayName), Code.DUPLICATE_NAME)
            changes["display_name"] = body.displayName
    if "description" in sent and body.description != mapping.description:
        changes["description"] = body.description
    if "isEnabled" in sent:
        if body.isEnabled is None:
            raise bad_request("Invalid 'isEnabled': it must be true or false")
        if body.isEnabled != mapping.is_enabled:
            changes["is_enabled"] = body.isEnabled
    if "mappingTo" in sent:
        if body.mappingTo is None:
            raise bad_request("Invalid 'mappingTo': it cannot be removed")
        mapping_to = _checked_mapping_to(session, store, mapping.mapping_from, body.mappingTo)
        if mapping_to != mapping.mapping_to:
            changes["mapping_to"] = mapping_to
    if not changes:
        return
    for column, value in changes.items():
        setattr(mapping, column, value)
    mapping.version += 1
    mapping.updated_at = utcnow()
    session.flush()


def delete_mapping(session: Session, mapping: DataMapping) -> None:
    session.delete(mapping)
    session.flush()


def _duplicate(name: str) -> str:
    return f"Invalid 'displayName': a data mapping named '{name}' already exists in this store"


def _checked_mapping_to(session: Session, store: Store, source: dict, mapping_to: DataMappingToTraits) -> dict:
    """``mappingTo`` as stored, once every item names a defined trait, once, from what its source offers."""
    schema = store_schema(session, store.id)
    seen: set[tuple[str, str]] = set()
    items = []
    for index, item in enumerate(mapping_to.mappings):
        where = f"mappingTo.mappings[{index}]"
        definitions = schema.get(item.traitGroup)
        if definitions is None:
            raise ApiError(400, Code.UNKNOWN_TRAIT_GROUP, f"{where}: unknown trait group '{item.traitGroup}'")
        definition = definitions.get(item.traitName)
        if definition is None:
            raise ApiError(
                400, Code.UNKNOWN_TRAIT, f"{where}: trait group '{item.traitGroup}' defines no trait '{item.traitName}'"
            )
        target = (item.traitGroup, item.traitName)
        if target in seen:
            raise bad_request(f"{where}: trait '{item.traitGroup}.{item.traitName}' is mapped twice; map each trait once")
        seen.add(target)
        items.append(MappedTrait(where, item.expression, definition))
    if source["type"] in DATASET_TYPES:
        check_dataset_mapping(session, store, source["datasetId"], items)
    else:
        columns = set(source["columns"])
        for item in items:
            if item.expression not in columns:
                raise bad_request(f"{item.where}: expression '{item.expression}' is not one of mappingFrom.columns")
    return mapping_to.model_dump()
