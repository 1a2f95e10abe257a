"""Schema exports: Avro (.avsc, canonical form, fingerprint), BigQuery table schema and JSON Schema."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from versioning.errors import VersioningError
from versioning.exports import (
    ExportError,
    ExportFormat,
    FingerprintAlgorithm,
    export_schema,
    fingerprint,
    parsing_canonical_form,
    to_avsc,
    to_bigquery,
    to_json_schema,
)

DATA = Path(__file__).parent / "data" / "exports"
USERS_V3 = json.loads((DATA / "users_v3.source.avsc").read_text())


def record(*fields: dict[str, Any], name: str = "Row", **extra: Any) -> dict[str, Any]:
    """A record schema with the given fields."""
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def field(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def column_of(avro_type: Any) -> dict[str, Any]:
    """The BigQuery column for a single field ``x`` of the given Avro type."""
    return to_bigquery(record(field("x", avro_type)))[0]


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator that also asserts ``format`` (date, time, date-time, uuid), as an API gateway would."""
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def decimal(precision: int, scale: int | None = None, base: str = "bytes") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": base, "logicalType": "decimal", "precision": precision}
    if base == "fixed":
        schema |= {"name": "Amount", "size": 16}
    if scale is not None:
        schema["scale"] = scale
    return schema


ADDRESS = {
    "type": "record",
    "name": "Address",
    "namespace": "platform.places",
    "doc": "A postal address.",
    "fields": [
        {"name": "lines", "type": {"type": "array", "items": "string"}},
        {"name": "city", "type": "string", "doc": "City or town."},
    ],
}

# ---------------------------------------------------------------------------------------------------------
# The users subject, v3: golden files written by the exporters and checked by hand
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "golden"),
    [
        (ExportFormat.AVRO, "users_v3.avsc"),
        (ExportFormat.BIGQUERY, "users_v3.bigquery.json"),
        (ExportFormat.JSON_SCHEMA, "users_v3.schema.json"),
    ],
)
def test_should_export_users_v3_exactly_as_the_golden_file(fmt: ExportFormat, golden: str) -> None:
    assert export_schema(USERS_V3, fmt) == (DATA / golden).read_text()


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_should_write_newline_terminated_json_that_matches_the_functions(fmt: ExportFormat) -> None:
    text = export_schema(USERS_V3, fmt.value)
    assert text.endswith("}\n") or text.endswith("]\n")
    expected = {
        ExportFormat.AVRO: USERS_V3,
        ExportFormat.BIGQUERY: to_bigquery(USERS_V3),
        ExportFormat.JSON_SCHEMA: to_json_schema(USERS_V3),
    }[fmt]
    assert json.loads(text) == expected


def test_should_refuse_an_unknown_format_and_list_the_known_ones() -> None:
    with pytest.raises(ExportError) as caught:
        export_schema(USERS_V3, "protobuf")
    assert caught.value.path == ""
    assert "'protobuf'" in caught.value.message
    assert "avro, bigquery, json-schema" in caught.value.message


def test_should_make_export_errors_versioning_errors_that_name_the_place() -> None:
    error = ExportError("/fields/address/fields/lines", "arrays of arrays are not allowed")
    assert isinstance(error, VersioningError)
    assert str(error) == "at /fields/address/fields/lines: arrays of arrays are not allowed"
    assert str(ExportError("", "bad")) == "at the schema root: bad"


@pytest.mark.parametrize("export", [to_avsc, to_bigquery, to_json_schema, parsing_canonical_form])
def test_should_refuse_a_schema_that_is_not_avro(export: Any) -> None:
    with pytest.raises(ExportError) as caught:
        export(record(field("owner", "Person")))
    assert caught.value.path == ""
    assert "undefined type" in caught.value.message
    assert "Person" in caught.value.message


# ---------------------------------------------------------------------------------------------------------
# Avro: .avsc text, Parsing Canonical Form, fingerprints
# ---------------------------------------------------------------------------------------------------------

EVERYTHING = {
    "fields": [
        {"default": {"b": 1, "a": 2}, "type": {"values": "int", "type": "map"}, "name": "counts"},
        {
            "aliases": ["colour"],
            "order": "ignore",
            "doc": "Paint.",
            "type": {"symbols": ["RED", "BLUE"], "default": "RED", "name": "Color", "type": "enum"},
            "name": "color",
        },
        {"type": {"size": 4, "name": "Tag", "type": "fixed", "x-owner": "ops"}, "name": "tag"},
        {"type": {"items": ADDRESS, "type": "array"}, "name": "addresses"},
        {"type": {"scale": 2, "precision": 9, "logicalType": "decimal", "type": "bytes"}, "name": "total"},
    ],
    "aliases": ["Everything0"],
    "doc": "Ünïcode docs stay as written.",
    "namespace": "platform.test",
    "name": "Everything",
    "type": "record",
}


def test_should_write_schema_and_field_keys_in_one_stable_order() -> None:
    text = to_avsc(EVERYTHING)
    written = json.loads(text)
    assert list(written) == ["type", "name", "namespace", "doc", "aliases", "fields"]
    counts, color, tag, addresses, total = written["fields"]
    assert list(color) == ["name", "type", "doc", "order", "aliases"]
    assert list(color["type"]) == ["type", "name", "symbols", "default"]
    assert list(counts) == ["name", "type", "default"]
    assert list(counts["type"]) == ["type", "values"]
    assert list(tag["type"]) == ["type", "name", "size", "x-owner"]  # custom properties last
    assert list(addresses["type"]) == ["type", "items"]
    assert list(addresses["type"]["items"]) == ["type", "name", "namespace", "doc", "fields"]
    assert list(total["type"]) == ["type", "logicalType", "precision", "scale"]


def test_should_keep_everything_the_author_wrote() -> None:
    text = to_avsc(EVERYTHING)
    assert json.loads(text) == EVERYTHING
    assert list(json.loads(text)["fields"][0]["default"]) == ["a", "b"]  # key order means nothing in a default
    assert "Ünïcode" in text
    assert text.startswith('{\n  "type": "record",\n')
    assert text.endswith("}\n")


def test_should_give_the_same_text_for_the_same_schema_however_its_keys_are_ordered() -> None:
    reordered = json.loads(json.dumps(EVERYTHING, sort_keys=True))
    assert to_avsc(reordered) == to_avsc(EVERYTHING)
    assert to_avsc(json.loads(to_avsc(EVERYTHING))) == to_avsc(EVERYTHING)


def test_should_not_change_the_schema_it_is_given() -> None:
    before = copy.deepcopy(EVERYTHING)
    to_avsc(EVERYTHING)
    to_bigquery(EVERYTHING)
    to_json_schema(EVERYTHING)
    assert before == EVERYTHING


def test_should_strip_docs_defaults_and_logical_types_in_parsing_canonical_form() -> None:
    schema = {
        "type": "record",
        "name": "Payment",
        "namespace": "shop",
        "doc": "ignored",
        "fields": [
            {"name": "amount", "type": decimal(9, 2), "doc": "ignored"},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    }
    assert parsing_canonical_form(schema) == (
        '{"name":"shop.Payment","type":"record","fields":'
        '[{"name":"amount","type":"bytes"},{"name":"note","type":["null","string"]}]}'
    )


def test_should_agree_with_the_avro_library_on_canonical_form() -> None:
    assert parsing_canonical_form(USERS_V3) == avro.schema.parse(json.dumps(USERS_V3)).canonical_form


# The Avro specification's test vectors (share/test/data/schema-tests.txt), as Java's signed 64-bit values.
@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ("null", 7195948357588979594),
        ({"type": "int"}, 8247732601305521295),
        ("boolean", -6970731678124411036),
        ({"type": "fixed", "name": "foo", "size": 15}, 1756455273707447556),
    ],
)
def test_should_compute_the_specifications_rabin_fingerprints(schema: Any, expected: int) -> None:
    assert int.from_bytes(bytes.fromhex(fingerprint(schema)), "little", signed=True) == expected


@pytest.mark.parametrize(
    ("algorithm", "digest"), [(FingerprintAlgorithm.MD5, hashlib.md5), ("SHA-256", hashlib.sha256)]
)
def test_should_digest_the_canonical_form(algorithm: str, digest: Any) -> None:
    canonical = parsing_canonical_form(USERS_V3).encode()
    assert fingerprint(USERS_V3, algorithm) == digest(canonical).hexdigest()


def test_should_fingerprint_what_readers_see_not_the_docs() -> None:
    documented = copy.deepcopy(USERS_V3)
    documented["fields"][0]["doc"] = "A different doc."
    retyped = copy.deepcopy(USERS_V3)
    retyped["fields"][0]["type"] = "bytes"
    assert fingerprint(documented) == fingerprint(USERS_V3)
    assert fingerprint(retyped) != fingerprint(USERS_V3)


def test_should_refuse_an_unknown_fingerprint_algorithm() -> None:
    with pytest.raises(ExportError, match="unknown fingerprint algorithm 'crc32'; choose one of: CRC-64-AVRO"):
        fingerprint(USERS_V3, "crc32")


# ---------------------------------------------------------------------------------------------------------
# BigQuery
# ---------------------------------------------------------------------------------------------------------

BIGQUERY_TYPES = [
    ("string", {"type": "STRING", "mode": "REQUIRED"}),
    ("boolean", {"type": "BOOLEAN", "mode": "REQUIRED"}),
    ("int", {"type": "INTEGER", "mode": "REQUIRED"}),
    ("long", {"type": "INTEGER", "mode": "REQUIRED"}),
    ("float", {"type": "FLOAT", "mode": "REQUIRED"}),
    ("double", {"type": "FLOAT", "mode": "REQUIRED"}),
    ("bytes", {"type": "BYTES", "mode": "REQUIRED"}),
    ({"type": "string"}, {"type": "STRING", "mode": "REQUIRED"}),
    ({"type": "fixed", "name": "Hash", "size": 32}, {"type": "BYTES", "mode": "REQUIRED"}),
    ({"type": "enum", "name": "Color", "symbols": ["RED"]}, {"type": "STRING", "mode": "REQUIRED"}),
    (["null", "string"], {"type": "STRING", "mode": "NULLABLE"}),
    (["long", "null"], {"type": "INTEGER", "mode": "NULLABLE"}),
    (["double"], {"type": "FLOAT", "mode": "REQUIRED"}),
    ({"type": "array", "items": "string"}, {"type": "STRING", "mode": "REPEATED"}),
    (["null", {"type": "array", "items": "long"}], {"type": "INTEGER", "mode": "REPEATED"}),
    ({"type": "array", "items": ["int"]}, {"type": "INTEGER", "mode": "REPEATED"}),
    ({"type": "int", "logicalType": "date"}, {"type": "DATE", "mode": "REQUIRED"}),
    ({"type": "int", "logicalType": "time-millis"}, {"type": "TIME", "mode": "REQUIRED"}),
    ({"type": "long", "logicalType": "time-micros"}, {"type": "TIME", "mode": "REQUIRED"}),
    ({"type": "long", "logicalType": "timestamp-millis"}, {"type": "TIMESTAMP", "mode": "REQUIRED"}),
    ({"type": "long", "logicalType": "timestamp-micros"}, {"type": "TIMESTAMP", "mode": "REQUIRED"}),
    ({"type": "long", "logicalType": "local-timestamp-millis"}, {"type": "DATETIME", "mode": "REQUIRED"}),
    ({"type": "long", "logicalType": "local-timestamp-micros"}, {"type": "DATETIME", "mode": "REQUIRED"}),
    ({"type": "string", "logicalType": "uuid"}, {"type": "STRING", "mode": "REQUIRED"}),
    (["null", {"type": "long", "logicalType": "timestamp-micros"}], {"type": "TIMESTAMP", "mode": "NULLABLE"}),
    # A logical type on the wrong underlying type, or one BigQuery does not know, is ignored (Avro's rule).
    ({"type": "string", "logicalType": "date"}, {"type": "STRING", "mode": "REQUIRED"}),
    ({"type": "long", "logicalType": "date"}, {"type": "INTEGER", "mode": "REQUIRED"}),
    ({"type": "string", "logicalType": "iso-country"}, {"type": "STRING", "mode": "REQUIRED"}),
]


@pytest.mark.parametrize(("avro_type", "expected"), BIGQUERY_TYPES)
def test_should_map_each_avro_type_to_its_bigquery_column(avro_type: Any, expected: dict[str, str]) -> None:
    assert column_of(avro_type) == {"name": "x", **expected}


@pytest.mark.parametrize(
    ("avro_type", "expected"),
    [
        (decimal(10, 2), {"type": "NUMERIC", "precision": "10", "scale": "2"}),
        (decimal(38, 9), {"type": "NUMERIC"}),  # NUMERIC's own default: no parameters
        (decimal(29, 0), {"type": "NUMERIC", "precision": "29", "scale": "0"}),
        (decimal(5), {"type": "NUMERIC", "precision": "5", "scale": "0"}),  # scale defaults to 0
        (decimal(9, 9), {"type": "NUMERIC", "precision": "9", "scale": "9"}),
        (decimal(30, 0), {"type": "BIGNUMERIC", "precision": "30", "scale": "0"}),
        (decimal(20, 10), {"type": "BIGNUMERIC", "precision": "20", "scale": "10"}),
        (decimal(76, 38), {"type": "BIGNUMERIC", "precision": "76", "scale": "38"}),
        (decimal(38, 0), {"type": "BIGNUMERIC", "precision": "38", "scale": "0"}),
        (decimal(12, 4, base="fixed"), {"type": "NUMERIC", "precision": "12", "scale": "4"}),
    ],
)
def test_should_map_decimals_to_numeric_or_bignumeric_by_precision_and_scale(
    avro_type: dict[str, Any], expected: dict[str, str]
) -> None:
    assert column_of(avro_type) == {"name": "x", "mode": "REQUIRED", **expected}


@pytest.mark.parametrize("avro_type", [decimal(39, 0), decimal(77, 38), decimal(40, 39)])
def test_should_refuse_decimals_that_no_bigquery_type_holds(avro_type: dict[str, Any]) -> None:
    with pytest.raises(ExportError) as caught:
        to_bigquery(record(field("amount", avro_type)))
    assert caught.value.path == "/fields/amount"
    precision, scale = avro_type["precision"], avro_type.get("scale", 0)
    assert f"decimal({precision}, {scale}) does not fit BigQuery" in caught.value.message
    assert "lower the precision or scale" in caught.value.message


def test_should_nest_records_and_reuse_named_types_by_short_and_full_name() -> None:
    schema = record(
        field("home", ADDRESS, doc="Where the user lives."),
        field("work", ["null", "platform.places.Address"]),
        field("previous", {"type": "array", "items": "platform.places.Address"}),
        name="User",
        namespace="platform.places",
    )
    schema["fields"].append(field("billing", "Address"))  # short name, resolved in the enclosing namespace
    address_columns = [
        {"name": "lines", "type": "STRING", "mode": "REPEATED"},
        {"name": "city", "type": "STRING", "mode": "REQUIRED", "description": "City or town."},
    ]
    assert to_bigquery(schema) == [
        {
            "name": "home",
            "type": "RECORD",
            "mode": "REQUIRED",
            "description": "Where the user lives.",  # the field's doc wins over the type's
            "fields": address_columns,
        },
        {
            "name": "work",
            "type": "RECORD",
            "mode": "NULLABLE",
            "description": "A postal address.",  # no field doc: the record's doc stands in
            "fields": address_columns,
        },
        {
            "name": "previous",
            "type": "RECORD",
            "mode": "REPEATED",
            "description": "A postal address.",
            "fields": address_columns,
        },
        {
            "name": "billing",
            "type": "RECORD",
            "mode": "REQUIRED",
            "description": "A postal address.",
            "fields": address_columns,
        },
    ]


def test_should_turn_maps_into_repeated_key_value_records() -> None:
    schema = record(
        field("labels", {"type": "map", "values": "string"}, doc="Free-form labels."),
        field("scores", ["null", {"type": "map", "values": ["null", "double"]}]),
        field("tags", {"type": "map", "values": {"type": "array", "items": "string"}}),
        field("places", {"type": "map", "values": ADDRESS}),
    )
    labels, scores, tags, places = to_bigquery(schema)
    key = {"name": "key", "type": "STRING", "mode": "REQUIRED"}
    assert labels == {
        "name": "labels",
        "type": "RECORD",
        "mode": "REPEATED",
        "description": "Free-form labels.",
        "fields": [key, {"name": "value", "type": "STRING", "mode": "REQUIRED"}],
    }
    assert scores["mode"] == "REPEATED"
    assert scores["fields"] == [key, {"name": "value", "type": "FLOAT", "mode": "NULLABLE"}]
    assert tags["fields"] == [key, {"name": "value", "type": "STRING", "mode": "REPEATED"}]
    assert places["fields"][1]["type"] == "RECORD"
    assert [column["name"] for column in places["fields"][1]["fields"]] == ["lines", "city"]


def test_should_omit_the_description_of_undocumented_fields() -> None:
    assert "description" not in column_of("string")
    assert column_of("string") == to_bigquery(record(field("x", "string", doc="")))[0]


def nested(depth: int) -> dict[str, Any]:
    """A record whose field ``n`` nests records ``depth`` levels deep."""
    inner: dict[str, Any] = record(field("leaf", "int"), name=f"Level{depth}")
    for level in range(depth - 1, 0, -1):
        inner = record(field("n", inner), name=f"Level{level}")
    return record(field("n", inner), name="Top")


def test_should_allow_fifteen_levels_of_nested_records() -> None:
    column = to_bigquery(nested(15))[0]
    for _ in range(14):
        column = column["fields"][0]
    assert column["type"] == "RECORD"
    assert column["fields"] == [{"name": "leaf", "type": "INTEGER", "mode": "REQUIRED"}]


def unsupported(schema: dict[str, Any]) -> ExportError:
    with pytest.raises(ExportError) as caught:
        to_bigquery(schema)
    return caught.value


LONG_DOC = "x" * 1025


@pytest.mark.parametrize(
    ("schema", "path", "says"),
    [
        ("string", "", "a BigQuery table needs a record at the top level, but this schema is string"),
        (
            {"type": "array", "items": ADDRESS},
            "",
            "needs a record at the top level, but this schema is array",
        ),
        (
            record(field("contact", ["null", "string", "long"])),
            "/fields/contact",
            "the union allows 2 non-null types (string, long) and a BigQuery column has one type",
        ),
        (
            record(field("contact", ["string", ADDRESS])),
            "/fields/contact",
            "(string, record 'platform.places.Address')",
        ),
        (record(field("nothing", "null")), "/fields/nothing", "the field is always null"),
        (record(field("nothing", ["null"])), "/fields/nothing", "the union holds only null"),
        (
            record(
                field(
                    "address",
                    record(
                        field("lines", {"type": "array", "items": {"type": "array", "items": "string"}}),
                        name="Address",
                    ),
                )
            ),
            "/fields/address/fields/lines/items",
            "the array's items are arrays, and BigQuery has no arrays of arrays",
        ),
        (
            record(field("labels", {"type": "array", "items": {"type": "map", "values": "string"}})),
            "/fields/labels/items",
            "the array's items are maps, and BigQuery has no arrays of arrays",
        ),
        (
            record(field("lines", {"type": "array", "items": ["null", "string"]})),
            "/fields/lines/items",
            "the array's items may be null, and BigQuery arrays cannot hold nulls",
        ),
        (
            record(field("values", {"type": "map", "values": {"type": "array", "items": ["string", "int"]}})),
            "/fields/values/values/items",
            "the union allows 2 non-null types (string, int)",
        ),
        (
            record(field("next", ["null", "Node"]), name="Node"),
            "/fields/next",
            "record 'Node' contains itself (Node -> Node) and BigQuery cannot represent recursive types",
        ),
        (
            record(
                field("child", record(field("parent", ["null", "Parent"]), name="Child")),
                name="Parent",
            ),
            "/fields/child/fields/parent",
            "record 'Parent' contains itself (Parent -> Child -> Parent)",
        ),
        (
            record(field("meta", record(name="Empty"))),
            "/fields/meta",
            "record 'Empty' has no fields and BigQuery cannot store an empty RECORD",
        ),
        (
            nested(16),
            "/fields/n" * 16,
            "RECORD columns nest 16 levels deep here and BigQuery allows at most 15",
        ),
        (
            record(field("_PARTITIONTIME", "long")),
            "/fields/_PARTITIONTIME",
            "starts with '_PARTITION', which BigQuery reserves",
        ),
        (
            record(field("_table_suffix", "string")),
            "/fields/_table_suffix",
            "starts with '_TABLE_', which BigQuery reserves",
        ),
        (
            record(field("id", "string"), field("ID", "string")),
            "/fields/ID",
            "column 'ID' clashes with column 'id': BigQuery column names ignore letter case",
        ),
        (
            record(field("first-name", "string")),
            "/fields/first-name",
            "'first-name' is not a valid BigQuery column name: use letters, digits and underscores",
        ),
        (record(field("1st", "string")), "/fields/1st", "'1st' is not a valid BigQuery column name"),
        (record(field("a/b~c", "string")), "/fields/a~1b~0c", "'a/b~c' is not a valid BigQuery column name"),
        (
            record(field("n" * 301, "string")),
            "/fields/" + "n" * 301,
            "the column name is 301 characters long and BigQuery allows at most 300",
        ),
        (
            record(field("notes", "string", doc=LONG_DOC)),
            "/fields/notes",
            "the doc is 1025 characters long and BigQuery descriptions hold at most 1024",
        ),
    ],
)
def test_should_refuse_what_bigquery_cannot_represent_naming_the_field(schema: Any, path: str, says: str) -> None:
    error = unsupported(schema)
    assert error.path == path
    assert says in error.message
    assert str(error).startswith(f"at {path}:" if path else "at the schema root:")


@pytest.mark.parametrize(
    ("schema", "fix"),
    [
        (record(field("contact", ["null", "string", "long"])), "split the union into a record"),
        (record(field("lines", {"type": "array", "items": ["null", "string"]})), 'drop "null"'),
        (
            record(field("m", {"type": "array", "items": {"type": "array", "items": "int"}})),
            "wrap the inner array in a record",
        ),
        (record(field("next", ["null", "Node"]), name="Node"), "cut the cycle"),
        (record(field("_FILE_NAME", "string")), "rename the field (keep the old name in its aliases)"),
        (record(field("meta", record(name="Empty"))), "add a field to it"),
    ],
)
def test_should_say_how_to_fix_what_bigquery_cannot_represent(schema: dict[str, Any], fix: str) -> None:
    assert fix in unsupported(schema).message


# ---------------------------------------------------------------------------------------------------------
# JSON Schema
# ---------------------------------------------------------------------------------------------------------


def property_schema(avro_type: Any, **extra: Any) -> tuple[Draft202012Validator, dict[str, Any]]:
    """A validator for a document holding one field ``x`` of ``avro_type``, and ``x``'s property schema."""
    document = to_json_schema(record(field("x", avro_type, **extra)))
    return validator(document), document["properties"]["x"]


JSON_TYPES = [
    ("null", [None], [0, ""]),
    ("boolean", [True, False], [0, "true", None]),
    ("int", [0, -(2**31), 2**31 - 1], [2**31, -(2**31) - 1, 1.5, "1", None]),
    ("long", [2**63 - 1, -(2**63)], [2**63, 0.5]),
    ("float", [1.5, 0, -3], ["1.5", None]),
    ("double", [1e300], [True]),
    ("string", ["", "é"], [1, None]),
    ("bytes", ["", "/w==", "/wE=", "AAECAw=="], ["/w=", "@@@@", "AAEC\n", 12]),
    ({"type": "fixed", "name": "Tag", "size": 4}, ["AAECAw=="], ["AAEC", "AAECAwQ=", "AAECAx==", "AAECAw==\n"]),
    ({"type": "enum", "name": "Color", "symbols": ["RED", "BLUE"]}, ["RED", "BLUE"], ["red", "GREEN", 0]),
    ({"type": "array", "items": "int"}, [[], [1, 2]], [[1, "2"], {"0": 1}, None]),
    ({"type": "map", "values": "string"}, [{}, {"a": "b"}], [{"a": 1}, ["a"]]),
    (["null", "int", "string"], [None, 1, "1"], [1.5, [], True]),
    ({"type": "int", "logicalType": "date"}, ["2024-02-29"], ["2023-02-29", "20240229", 19782]),
    ({"type": "int", "logicalType": "time-millis"}, ["13:45:00.250Z", "00:00:00Z"], ["25:00:00Z", 1000]),
    ({"type": "long", "logicalType": "time-micros"}, ["13:45:00.000250Z"], ["13:45"]),
    (
        {"type": "long", "logicalType": "timestamp-millis"},
        ["2024-05-01T12:00:00Z", "2024-05-01T14:00:00.5+02:00"],
        ["2024-05-01", "2024-05-01 12:00", 1714564800000],
    ),
    ({"type": "long", "logicalType": "timestamp-micros"}, ["2024-05-01T12:00:00.000001Z"], ["yesterday"]),
    (
        {"type": "long", "logicalType": "local-timestamp-micros"},
        ["2024-05-01T12:00:00", "2024-05-01T12:00:00.123456"],
        ["2024-05-01T12:00:00Z", "2024-05-01", "2024-05-01T12:00:00\n"],
    ),
    (
        {"type": "string", "logicalType": "uuid"},
        ["4a1e2b5c-1d3f-4c2a-9b8e-7f6a5d4c3b2a"],
        ["4a1e2b5c", "not-a-uuid-at-all-not-a-uuid-at-all"],
    ),
    (decimal(5, 2), ["123.45", "-0.5", "0", "999", "1.2"], ["1234.5", "1.234", "1e3", "", "+1", "1.5\n", 1.5]),
    (decimal(3, 3), ["0.123", "-0.1", "0"], ["1.0", "0.1234"]),
    (decimal(4), ["1234", "-7"], ["12345", "1.5"]),
    (decimal(12, 4, base="fixed"), ["12345678.1234"], ["123456789.1"]),
    # A logical type on the wrong underlying type is ignored, as in Avro.
    ({"type": "string", "logicalType": "date"}, ["not a date"], [19782]),
]


@pytest.mark.parametrize(("avro_type", "good", "bad"), JSON_TYPES)
def test_should_accept_and_refuse_json_values_as_the_avro_type_does(
    avro_type: Any, good: list[Any], bad: list[Any]
) -> None:
    check, _ = property_schema(avro_type)
    for value in good:
        assert check.is_valid({"x": value}), value
    for value in bad:
        assert not check.is_valid({"x": value}), value


@pytest.mark.parametrize(
    ("avro_type", "expected"),
    [
        ("string", {"type": "string"}),
        ("int", {"type": "integer", "minimum": -2147483648, "maximum": 2147483647}),
        ("long", {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}),
        ("double", {"type": "number"}),
        (["null", "string"], {"anyOf": [{"type": "null"}, {"type": "string"}]}),
        ({"type": "array", "items": "boolean"}, {"type": "array", "items": {"type": "boolean"}}),
        ({"type": "map", "values": "null"}, {"type": "object", "additionalProperties": {"type": "null"}}),
        ({"type": "int", "logicalType": "date"}, {"type": "string", "format": "date"}),
        ({"type": "int", "logicalType": "time-millis"}, {"type": "string", "format": "time"}),
        ({"type": "long", "logicalType": "timestamp-millis"}, {"type": "string", "format": "date-time"}),
        ({"type": "string", "logicalType": "uuid"}, {"type": "string", "format": "uuid"}),
    ],
)
def test_should_write_the_documented_json_schema_for_each_type(avro_type: Any, expected: dict[str, Any]) -> None:
    assert property_schema(avro_type)[1] == expected


def test_should_say_how_bytes_and_decimals_are_encoded() -> None:
    assert property_schema("bytes")[1]["contentEncoding"] == "base64"
    assert property_schema(decimal(5, 2))[1]["$comment"] == (
        "decimal(5, 2) as a string in plain decimal notation: an optional minus sign, "
        "at most 3 digits before the point and 2 after"
    )
    document = to_json_schema(record(field("tag", {"type": "fixed", "name": "Tag", "size": 4, "doc": "A tag."})))
    assert document["$defs"]["Tag"] | {"pattern": "..."} == {
        "title": "Tag",
        "description": "A tag.",
        "type": "string",
        "contentEncoding": "base64",
        "pattern": "...",
        "$comment": "4 bytes, base64-encoded",
    }


@given(st.binary(max_size=40))
def test_should_accept_base64_of_exactly_a_fixed_size(data: bytes) -> None:
    encoded = base64.b64encode(data).decode()
    for size in (len(data) - 1, len(data), len(data) + 1):
        if size < 1:
            continue
        check, _ = property_schema({"type": "fixed", "name": "Blob", "size": size})
        assert check.is_valid({"x": encoded}) == (size == len(data))
    assert property_schema("bytes")[0].is_valid({"x": encoded})


def test_should_describe_users_v3_records_as_avro_does() -> None:
    check = validator(to_json_schema(USERS_V3))
    parsed = fastavro.parse_schema(USERS_V3)
    base: dict[str, Any] = {"id": "u1", "name": "Ada", "created_at": "2024-05-01T12:00:00Z"}
    good: list[dict[str, Any]] = [
        base | {"email": None, "updated_at": None, "phone": None},
        base | {"email": "ada@example.com", "updated_at": "2024-05-02T08:00:00Z", "phone": "+44 20 7946 0000"},
    ]
    bad = [
        {k: v for k, v in good[0].items() if k != "id"},
        good[0] | {"name": None},
        good[0] | {"email": 42},
        good[0] | {"created_at": 1714564800},
    ]
    for sample in good:
        assert fastavro.validate(sample, parsed, raise_errors=False)
        assert check.is_valid(sample), sample
    for sample in bad:
        assert not fastavro.validate(sample, parsed, raise_errors=False)
        assert not check.is_valid(sample), sample
    # Unlike Avro's writer, JSON documents may leave out fields that have defaults, and may not add others.
    assert check.is_valid(base)
    assert not check.is_valid(good[0] | {"nickname": "ada"})


def test_should_require_exactly_the_fields_without_defaults() -> None:
    document = to_json_schema(USERS_V3)
    assert document["required"] == ["id", "name", "created_at"]
    assert document["additionalProperties"] is False
    assert document["title"] == "platform.users.User"
    assert document["description"] == "A platform user (v3: adds phone)."
    assert document["properties"]["phone"]["description"] == "Contact phone number, if known."
    assert document["properties"]["phone"]["default"] is None


def test_should_define_nested_named_types_once_in_defs_and_refer_to_them() -> None:
    color = {"type": "enum", "name": "Color", "namespace": "paint", "symbols": ["RED"], "doc": "A colour."}
    schema = record(
        field("home", ADDRESS),
        field("work", ["null", "platform.places.Address"], default=None),
        field("color", color),
        field("colors", {"type": "array", "items": "paint.Color"}),
        name="User",
        namespace="platform.places",
    )
    document = to_json_schema(schema)
    assert list(document["$defs"]) == ["paint.Color", "platform.places.Address"]
    assert document["properties"]["home"] == {"$ref": "#/$defs/platform.places.Address"}
    assert document["properties"]["work"] == {
        "anyOf": [{"type": "null"}, {"$ref": "#/$defs/platform.places.Address"}],
        "default": None,
    }
    assert document["properties"]["colors"] == {"type": "array", "items": {"$ref": "#/$defs/paint.Color"}}
    assert document["$defs"]["paint.Color"] == {
        "title": "paint.Color",
        "description": "A colour.",
        "type": "string",
        "enum": ["RED"],
    }
    address = document["$defs"]["platform.places.Address"]
    assert address["title"] == "platform.places.Address"
    assert address["description"] == "A postal address."
    assert address["properties"]["city"] == {"type": "string", "description": "City or town."}
    check = validator(document)
    home = {"lines": ["1 Main St"], "city": "Springfield"}
    assert check.is_valid({"home": home, "work": home, "color": "RED", "colors": ["RED"]})
    assert not check.is_valid({"home": home | {"city": None}, "color": "RED", "colors": []})
    assert not check.is_valid({"home": home, "work": {"city": "x"}, "color": "RED", "colors": []})


def test_should_refer_back_to_the_top_level_record_for_recursion() -> None:
    tree = record(
        field("label", "string"),
        field("children", {"type": "array", "items": "Tree"}, default=[]),
        field("parent", ["null", "Tree"], default=None),
        name="Tree",
    )
    document = to_json_schema(tree)
    assert "$defs" not in document
    assert document["properties"]["parent"]["anyOf"][1] == {"$ref": "#"}
    check = validator(document)
    assert check.is_valid({"label": "a", "children": [{"label": "b", "children": [{"label": "c"}]}]})
    assert not check.is_valid({"label": "a", "children": [{"label": "b", "children": [{"label": 3}]}]})


def test_should_handle_recursion_through_nested_named_types() -> None:
    schema = record(
        field(
            "head",
            ["null", record(field("value", "int"), field("next", ["null", "Cell"], default=None), name="Cell")],
            default=None,
        ),
        name="List",
    )
    document = to_json_schema(schema)
    assert document["$defs"]["Cell"]["properties"]["next"]["anyOf"][1] == {"$ref": "#/$defs/Cell"}
    check = validator(document)
    assert check.is_valid({"head": {"value": 1, "next": {"value": 2, "next": None}}})
    assert not check.is_valid({"head": {"value": 1, "next": {"value": "2"}}})


def test_should_describe_a_schema_that_is_not_a_record() -> None:
    document = to_json_schema({"type": "array", "items": ADDRESS})
    assert document["type"] == "array"
    assert document["items"] == {"$ref": "#/$defs/platform.places.Address"}
    assert validator(document).is_valid([{"lines": [], "city": "Paris"}])
    assert to_json_schema("string") == {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"}


# (Avro type, default as Avro's JSON encoding writes it, the same default in the JSON view)
DEFAULTS = [
    ("string", "n/a", "n/a"),
    ("int", 7, 7),
    ("double", 1, 1.0),
    ("boolean", False, False),
    (["null", "string"], None, None),
    (["string", "null"], "x", "x"),
    ("bytes", "\u00ff\u0001", "/wE="),
    ({"type": "fixed", "name": "Two", "size": 2}, "\u0000\u00ff", "AP8="),
    ({"type": "enum", "name": "Color", "symbols": ["RED", "BLUE"]}, "BLUE", "BLUE"),
    ({"type": "array", "items": "bytes"}, ["\u0001"], ["AQ=="]),
    ({"type": "map", "values": "bytes"}, {"k": "\u0002"}, {"k": "Ag=="}),
    ({"type": "int", "logicalType": "date"}, 19844, "2024-05-01"),
    ({"type": "int", "logicalType": "date"}, -1, "1969-12-31"),
    ({"type": "int", "logicalType": "time-millis"}, 49_500_250, "13:45:00.250Z"),
    ({"type": "long", "logicalType": "time-micros"}, 49_500_000_250, "13:45:00.000250Z"),
    ({"type": "long", "logicalType": "timestamp-millis"}, 1_714_564_800_500, "2024-05-01T12:00:00.500Z"),
    ({"type": "long", "logicalType": "timestamp-micros"}, 0, "1970-01-01T00:00:00.000000Z"),
    ({"type": "long", "logicalType": "timestamp-micros"}, -1, "1969-12-31T23:59:59.999999Z"),
    ({"type": "long", "logicalType": "local-timestamp-millis"}, 1_714_564_800_000, "2024-05-01T12:00:00.000"),
    (decimal(5, 2), "\u0001\u00f4", "5.00"),  # unscaled 500
    (decimal(5, 2), "\u00ff\u0006", "-2.50"),  # unscaled -250, two's complement
    (decimal(4), "\u0007", "7"),
    (
        {"type": "fixed", "name": "Id", "size": 16, "logicalType": "uuid"},
        bytes(range(16)).decode("latin-1"),
        "00010203-0405-0607-0809-0a0b0c0d0e0f",
    ),
    (
        record(field("a", "bytes"), field("b", "int", default=3), name="Pair"),
        {"a": "\u0001"},
        {"a": "AQ=="},
    ),
]


@pytest.mark.parametrize(("avro_type", "avro_default", "json_default"), DEFAULTS)
def test_should_carry_defaults_in_the_json_view_that_the_schema_accepts(
    avro_type: Any, avro_default: Any, json_default: Any
) -> None:
    check, prop = property_schema(avro_type, default=avro_default)
    assert prop["default"] == json_default
    assert type(prop["default"]) is type(json_default)
    assert check.is_valid({"x": prop["default"]})
    assert to_json_schema(record(field("x", avro_type, default=avro_default)))["required"] == []


PLATFORM_SCHEMAS = sorted((Path(__file__).parents[2] / "schemas").glob("*/v*.avsc"))


@pytest.mark.parametrize("path", PLATFORM_SCHEMAS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_should_export_every_platform_schema_version_losslessly(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert json.loads(export_schema(schema, ExportFormat.AVRO)) == schema
    Draft202012Validator.check_schema(json.loads(export_schema(schema, ExportFormat.JSON_SCHEMA)))
