"""Path parameters every router shares: an id that doesn't match its pattern is a 400."""

from fastapi import Path

from convmem.kit.ids import PATTERNS

STORE_ID = Path(pattern=PATTERNS["storeId"].pattern)
PROFILE_ID = Path(pattern=PATTERNS["profileId"].pattern)
IMPORT_ID = Path(pattern=PATTERNS["importId"].pattern)
BULK_ID = Path(pattern=PATTERNS["bulkId"].pattern)
OBSERVATION_ID = Path(pattern=PATTERNS["observationId"].pattern)
SUMMARY_ID = Path(pattern=PATTERNS["summaryId"].pattern)
PAIR_ID = Path(pattern=PATTERNS["pairId"].pattern)
DATA_MAPPING_ID = Path(pattern=PATTERNS["dataMappingId"].pattern)
DATASET_ID = Path(pattern=PATTERNS["datasetId"].pattern)
SYNC_ID = Path(pattern=PATTERNS["syncId"].pattern)
SUGGESTION_ID = Path(pattern=PATTERNS["suggestionId"].pattern)
