"""The derived slice attributes moved to :mod:`tailgate.records` (below analysis), so that
the traffic import computes exactly the attributes the report computes; re-exported here."""

from tailgate.records import TOKEN_EDGES, derive_item_features, detect_language, detect_names, token_bucket

__all__ = ["TOKEN_EDGES", "derive_item_features", "detect_language", "detect_names", "token_bucket"]
