"""Data mapping rules: names unique per store, every mapped trait defined and mapped once, sources that fit.

A mapping's ``mappingTo`` is checked against the store's trait schema and against its source:
- INGRESS: every ``expression`` is one of ``mappingFrom.columns`` (the columns arriving with the data);
- DATASET_*: every ``expression`` reads the dataset with values that fit the trait's ``dataType``
  (``check_dataset_mapping``, which the datasets domain answers).
"""

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from convmem.database.tables import DataMapping, Store, utcnow
from convmem.datamappings import repository, suggestions
from convmem.datamappings.schemas import (
    DATASET_TYPES,
    CreateDataMappingInput,
    DataMappingCore,
    DataMappingToTraits,
    DataMappingType,
    SuggestMappingsRequest,
)
from convmem.datamappings.suggestions import SourceColumn, Suggestion
from convmem.datasets.repository import dataset as find_dataset
from convmem.datasets.service import mapped_kinds
from convmem.kit.ids import PATTERNS, Prefix, new_id
from convmem.traitgroups.service import store_schema
from convmem.web.errors import ApiError, Code, bad_request, not_found
from convmem.web.pagination import Page, PageRequest, keyset


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

    The datasets domain knows the dataset and checks the expressions (``datasets.service.mapped_kinds``)."""
    for item, kind in zip(items, mapped_kinds(session, store, dataset_id, [(item.where, item.expression) for item in items])):
        data_type = item.definition.get("dataType", "STRING")
        if kind is not None and not value_kind_fits(kind, data_type):
            raise bad_request(f"{item.where}: column '{item.expression}' holds {kind} values, which a {data_type} trait does not take")


def dataset_columns(session: Session, store: Store, dataset_id: str) -> tuple[DataMappingType, list[SourceColumn]]:
    """The kind of the store's dataset ``dataset_id`` (DATASET_WAREHOUSE or DATASET_CLOUDAPP) and its columns
    with their declared types and a few sample values, for suggesting mappings.

    The datasets domain answers from the columns it kept when it last read the source."""
    dataset = find_dataset(session, store.id, dataset_id)
    if dataset is None:
        raise bad_request(f"Invalid 'datasetId': store '{store.sid}' has no dataset '{dataset_id}'")
    columns = [SourceColumn(c["name"], None if c["kind"] == "OTHER" else c["kind"], tuple(c["samples"])) for c in dataset.columns]
    return DataMappingType(dataset.kind), columns


def value_kind_fits(kind: str, data_type: str) -> bool:
    """Whether a trait of ``data_type`` takes values of a source field of ``kind`` (STRING, NUMBER,
    BOOLEAN, DATE or ARRAY): a STRING trait takes any scalar (written as its text), the others need their own kind."""
    return suggestions.kind_fits(kind, data_type)


def list_page(session: Session, store: Store, page: PageRequest, mapping_type: str | None) -> Page:
    """A page of the store's mappings (of one ``mappingFrom.type`` when given), in creation order."""
    stmt = repository.list_page_query(store.id, mapping_type)
    found = keyset(session, stmt, [DataMapping.id], page, key_of=lambda row: row.id)
    return replace(found, items=[row.DataMapping for row in found.items])


def find_mapping(session: Session, store: Store, mapping_sid: str) -> DataMapping | None:
    return repository.find_by_sid(session, store.id, mapping_sid) if PATTERNS["dataMappingId"].match(mapping_sid) else None


def get_mapping(session: Session, store: Store, mapping_sid: str) -> DataMapping:
    mapping = find_mapping(session, store, mapping_sid)
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


# --- Mapping suggestions -----------------------------------------------------------------------

MAX_SOURCE_COLUMNS = 100  # what one mapping's INGRESS columns may hold


@dataclass(frozen=True)
class Suggested:
    mapping_from: dict
    suggestions: list[Suggestion]
    unmapped_columns: list[str]


def suggest_mappings(session: Session, store: Store, request: SuggestMappingsRequest) -> Suggested:
    """Which column of the source most likely feeds which trait of the store (``suggestions.suggest``)."""
    if request.datasetId is not None:
        kind, columns = dataset_columns(session, store, request.datasetId)
        mapping_from = {"type": kind.value, "datasetId": request.datasetId}
    else:
        if request.csvSample is not None:
            columns = suggestions.columns_from_csv(request.csvSample)
            where = "csvSample"
        else:
            columns = [SourceColumn(c.name, c.type, tuple(c.samples)) for c in request.columns]
            where = "columns"
        _check_ingress_columns(where, columns)
        mapping_from = {"type": DataMappingType.INGRESS.value, "columns": [c.name for c in columns]}
    found = suggestions.suggest(columns, store_schema(session, store.id), min_confidence=request.minConfidence)
    mapped = {s.expression for s in found}
    return Suggested(mapping_from, found, [c.name for c in columns if c.name not in mapped])


def _check_ingress_columns(where: str, columns: list[SourceColumn]) -> None:
    """The columns must make a valid INGRESS ``mappingFrom``: 1..100 distinct names of 1..256 characters."""
    if not columns:
        raise bad_request(f"Invalid '{where}': it names no column")
    if len(columns) > MAX_SOURCE_COLUMNS:
        raise bad_request(f"Invalid '{where}': {len(columns)} columns; a mapping reads at most {MAX_SOURCE_COLUMNS}")
    seen: set[str] = set()
    for column in columns:
        if len(column.name) > 256:
            raise bad_request(f"Invalid '{where}': the column '{column.name[:64]}…' is longer than 256 characters")
        if column.name in seen:
            raise bad_request(f"Invalid '{where}': the column '{column.name}' appears twice")
        seen.add(column.name)
