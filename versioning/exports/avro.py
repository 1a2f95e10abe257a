"""Avro export: the schema as stable, pretty ``.avsc`` text, its Parsing Canonical Form and its fingerprint.

The ``.avsc`` text keeps everything the author wrote (docs, defaults, aliases, logical types, custom
properties) and only fixes the layout: two-space indentation and one key order everywhere, so exporting the
same schema twice gives byte-identical files and diffs between versions show real changes only.

The Parsing Canonical Form and fingerprints come from fastavro, which implements the Avro specification's
normalisation ([FULLNAMES], [STRIP], [ORDER], ...) and its CRC-64-AVRO (Rabin) fingerprint.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from fastavro.schema import fingerprint as fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from versioning.exports.errors import ExportError
from versioning.exports.names import resolve

# The order a reader expects: what the type is, what it is called, what it means, then its contents.
SCHEMA_KEY_ORDER = (
    "type",
    "name",
    "namespace",
    "doc",
    "aliases",
    "fields",
    "symbols",
    "default",
    "items",
    "values",
    "size",
    "logicalType",
    "precision",
    "scale",
)
FIELD_KEY_ORDER = ("name", "type", "doc", "default", "order", "aliases")


class FingerprintAlgorithm(StrEnum):
    """The schema fingerprints the Avro specification names."""

    CRC_64_AVRO = "CRC-64-AVRO"
    """64-bit Rabin fingerprint; the one Avro's single-object encoding puts in its header."""
    MD5 = "MD5"
    """128-bit MD5 digest of the canonical form."""
    SHA_256 = "SHA-256"
    """256-bit SHA-256 digest of the canonical form."""


def to_avsc(schema: Any) -> str:
    """The schema as pretty ``.avsc`` JSON text with a stable key order, newline-terminated.

    Schema objects list ``type, name, namespace, doc, aliases, fields, symbols, default, items, values, size,
    logicalType, precision, scale`` in that order, fields list ``name, type, doc, default, order, aliases``;
    any other (custom) property follows, alphabetically. Objects inside default values (record and map
    defaults), whose key order means nothing to Avro, have their keys sorted. The schema is checked to be valid
    Avro first (:class:`~versioning.exports.ExportError` if not).
    """
    resolve(schema)
    return json.dumps(_ordered_schema(schema), indent=2, ensure_ascii=False) + "\n"


def parsing_canonical_form(schema: Any) -> str:
    """Avro's Parsing Canonical Form of the schema: the text that two schemas share iff they read alike."""
    resolve(schema)
    return str(to_parsing_canonical_form(schema))


def fingerprint(schema: Any, algorithm: FingerprintAlgorithm | str = FingerprintAlgorithm.CRC_64_AVRO) -> str:
    """The schema's fingerprint, as lowercase hex, computed over its Parsing Canonical Form.

    For CRC-64-AVRO the hex spells the eight bytes in the order Avro writes them (little-endian, as in the
    single-object encoding header): ``int.from_bytes(bytes.fromhex(fp), "little", signed=True)`` is the
    signed value Java's ``SchemaNormalization.parsingFingerprint64`` returns.
    """
    try:
        chosen = FingerprintAlgorithm(algorithm)
    except ValueError:
        known = ", ".join(a.value for a in FingerprintAlgorithm)
        raise ExportError("", f"unknown fingerprint algorithm {algorithm!r}; choose one of: {known}") from None
    return str(fastavro_fingerprint(parsing_canonical_form(schema), chosen.value))


def _ordered_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_ordered_schema(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    ordered = _ordered_keys(schema, SCHEMA_KEY_ORDER)
    if "fields" in ordered:
        ordered["fields"] = [_ordered_field(field) for field in ordered["fields"]]
    for child in ("items", "values"):
        if child in ordered:
            ordered[child] = _ordered_schema(ordered[child])
    return ordered


def _ordered_field(field: dict[str, Any]) -> dict[str, Any]:
    ordered = _ordered_keys(field, FIELD_KEY_ORDER)
    ordered["type"] = _ordered_schema(ordered["type"])
    if "default" in ordered:
        ordered["default"] = _sorted_value(ordered["default"])
    return ordered


def _sorted_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_value(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_value(item) for item in value]
    return value


def _ordered_keys(obj: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    first = {key: obj[key] for key in known if key in obj}
    rest = {key: obj[key] for key in sorted(obj) if key not in first}
    return first | rest
