"""Resource ids: TypeID-style TTIDs (``<prefix>_`` + 26 base32 chars of a UUIDv7).

UUIDv7 puts the creation time first, so ids of one kind sort by creation time.
"""

import re
from enum import StrEnum

from typeid import TypeID


class Prefix(StrEnum):
    STORE = "mem_store"
    PROFILE = "mem_profile"
    IMPORT = "mem_import"
    OPERATION = "mem_operation"
    OBSERVATION = "mem_observation"
    SUMMARY = "mem_summary"
    BULK = "mem_bulk"
    NEVER_MERGE = "mem_nevermerge"
    DATA_MAPPING = "mem_datamapping"
    DATASET = "tdi_dataset"
    DATASET_SYNC = "mem_datasync"
    SUGGESTION = "mem_suggestion"


_SUFFIX = r"[0-7][0-9a-z]{25}"

PATTERNS: dict[str, re.Pattern[str]] = {
    "storeId": re.compile(rf"^mem_(store|service)_{_SUFFIX}$"),
    "profileId": re.compile(rf"^mem_profile_{_SUFFIX}$"),
    "importId": re.compile(rf"^mem_import_{_SUFFIX}$"),
    "bulkId": re.compile(rf"^mem_bulk_{_SUFFIX}$"),
    "pairId": re.compile(rf"^mem_nevermerge_{_SUFFIX}$"),
    "suggestionId": re.compile(rf"^mem_suggestion_{_SUFFIX}$"),
    "observationId": re.compile(rf"^mem_observation_{_SUFFIX}$"),
    "summaryId": re.compile(rf"^mem_summary_{_SUFFIX}$"),
    "dataMappingId": re.compile(rf"^mem_datamapping_{_SUFFIX}$"),
    "datasetId": re.compile(rf"^tdi_dataset_{_SUFFIX}$"),
    "syncId": re.compile(rf"^mem_datasync_{_SUFFIX}$"),
    "conversationId": re.compile(rf"^conv_conversation_{_SUFFIX}$"),
}


def new_id(prefix: Prefix) -> str:
    return str(TypeID(prefix=prefix.value))
