"""Record schemas, in-memory shapes and content hashing (the storage contract)."""

from tailgate.records._derive import TOKEN_EDGES, derive_item_features, detect_language, detect_names, token_bucket
from tailgate.records._hashing import (
    HASH_HEX_DIGITS,
    cache_key_hasher,
    canonical_json,
    content_hash,
    file_sha256,
    item_id,
)
from tailgate.records._manifest import (
    Counts,
    DatasetInfo,
    ImportInfo,
    Manifest,
    ModelInfo,
    Plan,
    RunProvenance,
    SuiteInfo,
)
from tailgate.records._models import ChatMessage, Item, Mode, Prompt, Variant
from tailgate.records._request import (
    LanguageDetector,
    derive_request_attributes,
    derive_text_attributes,
    has_code,
)
from tailgate.records._schema import (
    EXPORT_EXTRA_COLUMNS,
    ITEM_COLUMNS,
    RECORD_COLUMNS,
    SCHEMA_VERSION,
    WITHHELD_ERROR_CLASSES,
    Column,
    item_arrow_schema,
    record_arrow_schema,
)

__all__ = [
    "EXPORT_EXTRA_COLUMNS",
    "HASH_HEX_DIGITS",
    "ITEM_COLUMNS",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "TOKEN_EDGES",
    "WITHHELD_ERROR_CLASSES",
    "ChatMessage",
    "Column",
    "Counts",
    "DatasetInfo",
    "ImportInfo",
    "Item",
    "LanguageDetector",
    "Manifest",
    "Mode",
    "ModelInfo",
    "Plan",
    "Prompt",
    "RunProvenance",
    "SuiteInfo",
    "Variant",
    "cache_key_hasher",
    "canonical_json",
    "content_hash",
    "derive_item_features",
    "derive_request_attributes",
    "derive_text_attributes",
    "detect_language",
    "detect_names",
    "file_sha256",
    "has_code",
    "item_arrow_schema",
    "item_id",
    "record_arrow_schema",
    "token_bucket",
]
