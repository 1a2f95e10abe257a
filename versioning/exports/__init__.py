"""Exports of a subject version's Avro schema for the tools around the pipeline.

* Avro (``.avsc``): the schema itself as stable, pretty JSON, plus its Parsing Canonical Form and fingerprint;
* BigQuery: the JSON table schema ``bq mk --schema`` and the BigQuery API take;
* JSON Schema (draft 2020-12): for validating the JSON view of records (APIs, fixtures, editors).

``schema`` is always a parsed Avro schema as Python data (dict/list/str), as the registry holds it. A schema
that the chosen format cannot represent raises :class:`ExportError`, which names the field path and the fix.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from versioning.exports.avro import FingerprintAlgorithm, fingerprint, parsing_canonical_form, to_avsc
from versioning.exports.bigquery import to_bigquery
from versioning.exports.errors import ExportError
from versioning.exports.json_schema import to_json_schema

__all__ = [
    "ExportError",
    "ExportFormat",
    "FingerprintAlgorithm",
    "export_schema",
    "fingerprint",
    "parsing_canonical_form",
    "to_avsc",
    "to_bigquery",
    "to_json_schema",
]


class ExportFormat(StrEnum):
    """The formats a schema can be exported to."""

    AVRO = "avro"
    """The Avro schema as ``.avsc`` text with a stable key order."""
    BIGQUERY = "bigquery"
    """A BigQuery JSON table schema (a list of columns)."""
    JSON_SCHEMA = "json-schema"
    """A JSON Schema (draft 2020-12) document for the records' JSON view."""


def export_schema(schema: Any, fmt: ExportFormat | str) -> str:
    """The schema exported as ``fmt``: JSON text, newline-terminated, ready to write to a file.

    Raises :class:`ExportError` for an unknown format or a schema the format cannot represent.
    """
    try:
        chosen = ExportFormat(fmt)
    except ValueError:
        known = ", ".join(f.value for f in ExportFormat)
        raise ExportError("", f"unknown export format {fmt!r}; choose one of: {known}") from None
    if chosen is ExportFormat.AVRO:
        return to_avsc(schema)
    exported: Any = to_bigquery(schema) if chosen is ExportFormat.BIGQUERY else to_json_schema(schema)
    return json.dumps(exported, indent=2, ensure_ascii=False) + "\n"
