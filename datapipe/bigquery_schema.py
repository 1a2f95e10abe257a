"""The BigQuery table schema that loading a table's Avro files produces.

BigQuery loads Avro with logical types (``useAvroLogicalTypes``) by these rules, so the BigQuery schema is a
function of the Avro schema and the two can never disagree:

- ``long``/``int`` -> INT64, ``double``/``float`` -> FLOAT64, ``boolean`` -> BOOL, ``string`` -> STRING,
  ``bytes`` -> BYTES;
- ``decimal(p, s)`` -> NUMERIC when 0 <= s <= 9 and p - s <= 29, BIGNUMERIC otherwise;
- ``date`` -> DATE, ``time-micros`` -> TIME, ``timestamp-micros`` -> TIMESTAMP,
  ``local-timestamp-micros`` -> DATETIME, ``uuid`` -> STRING;
- ``["null", T]`` -> mode NULLABLE; anything else REQUIRED.
"""

from __future__ import annotations

from typing import Any

NUMERIC_MAX_SCALE = 9
NUMERIC_MAX_INTEGER_DIGITS = 29

_PRIMITIVES = {
    "long": "INT64",
    "int": "INT64",
    "double": "FLOAT64",
    "float": "FLOAT64",
    "boolean": "BOOL",
    "string": "STRING",
    "bytes": "BYTES",
}
_LOGICAL = {
    "date": "DATE",
    "time-micros": "TIME",
    "time-millis": "TIME",
    "timestamp-micros": "TIMESTAMP",
    "timestamp-millis": "TIMESTAMP",
    "local-timestamp-micros": "DATETIME",
    "local-timestamp-millis": "DATETIME",
    "uuid": "STRING",
}


def bigquery_type(avro: Any) -> str:
    """The BigQuery column type for a (non-union) Avro type."""
    if isinstance(avro, str):
        return _PRIMITIVES[avro]
    logical = avro.get("logicalType")
    if logical == "decimal":
        precision, scale = int(avro["precision"]), int(avro.get("scale", 0))
        fits_numeric = 0 <= scale <= NUMERIC_MAX_SCALE and precision - scale <= NUMERIC_MAX_INTEGER_DIGITS
        return "NUMERIC" if fits_numeric else "BIGNUMERIC"
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    return _PRIMITIVES[avro["type"]]


def bigquery_schema(avro_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The BigQuery schema (the ``bq`` JSON field list) of an Avro record schema."""
    fields: list[dict[str, Any]] = []
    for field in avro_schema["fields"]:
        avro = field["type"]
        mode = "REQUIRED"
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            mode = "NULLABLE" if "null" in avro else "REQUIRED"
            avro = branches[0]
        entry: dict[str, Any] = {"name": field["name"], "type": bigquery_type(avro), "mode": mode}
        if field.get("doc"):
            entry["description"] = field["doc"]
        fields.append(entry)
    return fields
