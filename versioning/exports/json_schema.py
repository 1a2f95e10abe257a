"""JSON Schema export: a JSON Schema (draft 2020-12) for the JSON view of a subject's records.

The JSON view (see :mod:`versioning.exports.json_values`) is what records look like in JSON documents: unions
are plain values, bytes are base64, dates and times are RFC 3339 text, decimals are strings. The mapping:

* record: ``object`` with ``properties``, ``required`` (the fields without a default) and
  ``additionalProperties: false``; a field's ``doc`` and ``default`` become ``description`` and ``default``;
* named types (records, enums, fixed) other than the top-level one live in ``$defs`` under their full name
  and are used through ``$ref``, so a type referenced twice (or recursively) is written once; a reference to
  the top-level record is ``{"$ref": "#"}``;
* union: ``anyOf`` of the branches (``null`` as ``{"type": "null"}``); ``anyOf`` rather than ``oneOf``
  because plain JSON values can fit several branches (``1`` is both an int and a long) and still be valid;
* enum: ``enum`` of the symbols; array: ``items``; map: ``object`` with ``additionalProperties``;
* int and long: ``integer`` with their 32- and 64-bit ranges; float and double: ``number``;
* bytes and fixed: base64 strings (``contentEncoding: base64``) with a ``pattern`` that admits canonical
  base64 only, of exactly the fixed size for fixed;
* ``date``: ``format: date``; ``time-*``: ``format: time``; ``timestamp-*``: ``format: date-time``;
  ``local-timestamp-*``: a ``pattern`` for an RFC 3339 date-time without offset; ``uuid``: ``format: uuid``;
  ``decimal(P, S)``: a string ``pattern`` allowing at most P - S digits before the point and S after.

``format`` is an annotation in draft 2020-12: validators check it only when asked to (in Python's
``jsonschema``, pass ``format_checker=Draft202012Validator.FORMAT_CHECKER``).
"""

from __future__ import annotations

from typing import Any

from versioning.exports.json_values import default_to_json, logical_type
from versioning.exports.names import NAMED_TYPES, PRIMITIVE_TYPES, ResolvedSchema, resolve, type_name

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
INTEGER_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# Ends every pattern: Python's ``$`` (jsonschema's engine) also matches before a final newline, which the
# lookahead refuses; ECMA-262's ``$`` (other validators) reads the same, so both engines agree.
END = "$(?!\\n)"
BASE64_CHAR = "[A-Za-z0-9+/]"
# Any number of bytes: whole 4-character groups, then an optional padded tail.
BASE64_PATTERN = f"^(?:{BASE64_CHAR}{{4}})*(?:{BASE64_CHAR}{{2}}==|{BASE64_CHAR}{{3}}=)?{END}"
LOCAL_DATE_TIME_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]+)?" + END
TIME_FORMATS = {
    "date": "date",
    "time-millis": "time",
    "time-micros": "time",
    "timestamp-millis": "date-time",
    "timestamp-micros": "date-time",
    "timestamp-nanos": "date-time",
    "uuid": "uuid",
}


def to_json_schema(schema: Any) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) document that validates the JSON view of the schema's records."""
    resolved = resolve(schema)
    writer = _Writer(resolved)
    body = writer.top_level(resolved.root)
    document: dict[str, Any] = {"$schema": DRAFT_2020_12, **body}
    if writer.defs:
        document["$defs"] = {name: writer.defs[name] for name in sorted(writer.defs)}
    return document


class _Writer:
    """Writes JSON Schema for Avro types, collecting named types into :attr:`defs` as it meets them."""

    def __init__(self, resolved: ResolvedSchema) -> None:
        self.resolved = resolved
        self.defs: dict[str, dict[str, Any]] = {}
        self.top_level_name: str | None = None

    def top_level(self, schema: Any) -> dict[str, Any]:
        if isinstance(schema, dict) and type_name(schema) in NAMED_TYPES:
            self.top_level_name = schema["name"]
            return self._named(schema)
        return self.of(schema)

    def of(self, schema: Any) -> dict[str, Any]:
        """The JSON Schema for an Avro type (a fresh dict the caller may extend)."""
        if isinstance(schema, str) and schema not in PRIMITIVE_TYPES:
            return self._ref(schema)
        if isinstance(schema, list):
            branches = [self.of(branch) for branch in schema]
            return branches[0] if len(branches) == 1 else {"anyOf": branches}
        kind = type_name(schema)
        if kind in NAMED_TYPES:
            return self._ref(schema["name"])
        if kind == "array":
            return {"type": "array", "items": self.of(schema["items"])}
        if kind == "map":
            return {"type": "object", "additionalProperties": self.of(schema["values"])}
        logical = logical_type(schema)
        if logical is not None:
            return _logical(logical, schema)
        return _primitive(kind)

    def _ref(self, name: str) -> dict[str, Any]:
        if name == self.top_level_name:
            return {"$ref": "#"}
        if name not in self.defs:
            # Claim the name before writing the body, so a type that contains itself refers back to it.
            self.defs[name] = {}
            self.defs[name] = self._named(self.resolved.definitions[name])
        return {"$ref": f"#/$defs/{name}"}

    def _named(self, definition: dict[str, Any]) -> dict[str, Any]:
        kind = type_name(definition)
        head: dict[str, Any] = {"title": definition["name"]}
        if definition.get("doc"):
            head["description"] = definition["doc"]
        if kind in ("record", "error"):
            return head | self._record(definition)
        if kind == "enum":
            return head | {"type": "string", "enum": list(definition["symbols"])}
        logical = logical_type(definition)
        if logical is not None:
            return head | _logical(logical, definition)
        return head | _base64(definition["size"])

    def _record(self, record: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for field in record["fields"]:
            prop = self.of(field["type"])
            if field.get("doc"):
                prop["description"] = field["doc"]
            if "default" in field:
                prop["default"] = default_to_json(self.resolved, field["type"], field["default"])
            properties[field["name"]] = prop
        return {
            "type": "object",
            "properties": properties,
            "required": [field["name"] for field in record["fields"] if "default" not in field],
            "additionalProperties": False,
        }


def _primitive(kind: str) -> dict[str, Any]:
    if kind in INTEGER_RANGES:
        low, high = INTEGER_RANGES[kind]
        return {"type": "integer", "minimum": low, "maximum": high}
    if kind in ("float", "double"):
        return {"type": "number"}
    if kind == "bytes":
        return {"type": "string", "contentEncoding": "base64", "pattern": BASE64_PATTERN}
    return {"type": kind}  # null, boolean, string: the same word in both languages


def _logical(logical: str, schema: dict[str, Any]) -> dict[str, Any]:
    if logical in TIME_FORMATS:
        return {"type": "string", "format": TIME_FORMATS[logical]}
    if logical.startswith("local-timestamp-"):
        return {
            "type": "string",
            "pattern": LOCAL_DATE_TIME_PATTERN,
            "$comment": "a local date and time: RFC 3339 date-time without a time-zone offset",
        }
    # decimal, the one logical type left
    precision = int(schema["precision"])
    scale = int(schema.get("scale", 0))
    return {
        "type": "string",
        "pattern": _decimal_pattern(precision - scale, scale),
        "$comment": (
            f"decimal({precision}, {scale}) as a string in plain decimal notation: an optional minus sign, "
            f"at most {precision - scale} digits before the point and {scale} after"
        ),
    }


def _decimal_pattern(whole_digits: int, scale: int) -> str:
    whole = f"(?:0|[1-9][0-9]{{0,{whole_digits - 1}}})" if whole_digits > 0 else "0"
    fraction = f"(?:\\.[0-9]{{1,{scale}}})?" if scale > 0 else ""
    return f"^-?{whole}{fraction}{END}"


def _base64(size: int) -> dict[str, Any]:
    groups, tail = divmod(size, 3)
    # The last character before padding carries unused low bits, which canonical base64 leaves at zero.
    tails = {0: "", 1: f"{BASE64_CHAR}[AQgw]==", 2: f"{BASE64_CHAR}{{2}}[AEIMQUYcgkosw048]="}
    return {
        "type": "string",
        "contentEncoding": "base64",
        "pattern": f"^{BASE64_CHAR}{{{4 * groups}}}{tails[tail]}{END}",
        "$comment": f"{size} bytes, base64-encoded",
    }
