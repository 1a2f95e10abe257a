"""Validation of records against a subject version: every error of every record, each with its field path.

One entry point per shape of data, the reference and fast implementations side by side:

- :class:`Validator` (:mod:`versioning.validation.reference`): one record at a time, compiled once per schema;
  the definition of the answer;
- :class:`RowValidator` (:mod:`versioning.validation.rows`): many records at once, checked by msgspec in C
  (:mod:`versioning.validation.msgspec_types`), every rejected chunk answered by the reference, so verdicts,
  messages and paths are the reference's own;
- :class:`ColumnValidator` (:mod:`versioning.validation.columns`): Arrow tables and record batches.

One property suite (``tests/versioning/test_validation_contract.py``) runs against the record validators.
"""

from versioning.validation.columns import ColumnError, ColumnValidator, InvalidColumnsError
from versioning.validation.reference import VERSION_FIELD, FieldError, RecordErrors, Validator
from versioning.validation.rows import RowValidator

__all__ = [
    "VERSION_FIELD",
    "ColumnError",
    "ColumnValidator",
    "FieldError",
    "InvalidColumnsError",
    "RecordErrors",
    "RowValidator",
    "Validator",
]
