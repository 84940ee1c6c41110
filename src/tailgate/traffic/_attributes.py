"""Derived attributes of a request. The derivation lives in :mod:`tailgate.records` (below
analysis), so that quality under drift derives the attributes of eval items with exactly the code
that derives those of production requests; re-exported here, where the import uses it."""

from tailgate.records import LanguageDetector, derive_request_attributes, derive_text_attributes, has_code, token_bucket

__all__ = ["LanguageDetector", "derive_request_attributes", "derive_text_attributes", "has_code", "token_bucket"]
