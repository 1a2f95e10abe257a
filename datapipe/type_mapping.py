"""The mapping from reflected database column types to Avro types, losing nothing.

Reflection quirks this order of checks accounts for:

- Oracle ``NUMBER`` subclasses both ``Numeric`` and ``Integer`` in SQLAlchemy, so ``Numeric`` (which reads
  precision and scale) is checked before ``Integer``.
- Oracle reflects ``NUMBER(*, 0)`` (and ``INTEGER``) as ``INTEGER``: 38 digits, wider than a 64-bit long.
- Oracle ``DATE`` subclasses ``DateTime`` and carries a time of day: it is a local timestamp, not a date.
- ``TIMESTAMP WITH (LOCAL) TIME ZONE`` is an instant: ``timestamp-micros``; without a zone it is local time.
  MySQL/MariaDB ``TIMESTAMP`` is an instant too (stored in UTC, shown in the session's zone, which datapipe pins
  to UTC); ``DATETIME`` is local time.
- Oracle ``FLOAT(b)`` is a decimal number with up to 38 significant digits at any scale, like a bare ``NUMBER``;
  only ``BINARY_FLOAT``/``BINARY_DOUBLE`` are binary floating point.
- Integers are as wide as the source's: SQLite's ``INTEGER`` is 64-bit; MySQL's ``INT UNSIGNED`` needs a long and
  ``BIGINT UNSIGNED`` (up to 2**64 - 1) a ``decimal(20, 0)``.

BigQuery's types follow from the Avro type (see :mod:`datapipe.bigquery_schema`): a decimal becomes NUMERIC only
when 0 <= scale <= 9 and precision - scale <= 29, BIGNUMERIC otherwise.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, oracle
from sqlalchemy.types import TypeEngine

from datapipe.config import UnconstrainedNumber

LONG_DIGITS = 18
"""Every integer of at most 18 decimal digits fits a signed 64-bit long (max 9,223,372,036,854,775,807)."""

ORACLE_INTEGER_DIGITS = 38
"""Oracle's ``INTEGER`` is ``NUMBER(38, 0)``."""

BIGNUMERIC_MAX_SCALE = 38
"""BigQuery's BIGNUMERIC holds at most 38 fractional digits."""

BIGNUMERIC_MAX_INTEGER_DIGITS = 38
"""BigQuery's BIGNUMERIC holds at most 38 integer digits (the 39th partially)."""


class UnmappableType(Exception):
    """A column type with no lossless Avro mapping; :attr:`reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


AvroType = str | dict[str, Any]
"""An Avro type: a primitive name or a dict with a logical type."""


def decimal(precision: int, scale: int) -> AvroType:
    """An Avro ``decimal`` of a precision and scale."""
    return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}


def avro_type(column_type: TypeEngine[Any], dialect: str, unconstrained: UnconstrainedNumber) -> AvroType:
    """The Avro type for a reflected SQLAlchemy column type from a source of ``dialect`` (e.g. ``oracle``)."""
    # Order matters: see the module docstring.
    if isinstance(column_type, oracle.DATE):
        return {"type": "long", "logicalType": "local-timestamp-micros"}
    if isinstance(column_type, sa.Boolean):
        return "boolean"
    if isinstance(column_type, oracle.FLOAT) and not isinstance(column_type, oracle.BINARY_FLOAT | sa.Double):
        return _unconstrained(unconstrained)
    if isinstance(column_type, sa.Float):
        # Float before Numeric: Float subclasses NumericCommon, and is binary floating point in every dialect.
        return "float" if _is_single_precision(column_type, dialect) else "double"
    if isinstance(column_type, sa.Numeric):
        return _number(column_type.precision, column_type.scale, unconstrained)
    if isinstance(column_type, sa.Integer):
        return _integer(column_type, dialect, unconstrained)
    if isinstance(column_type, sa.DateTime):
        if (
            getattr(column_type, "timezone", False)
            or getattr(column_type, "local_timezone", False)
            or isinstance(column_type, mysql.TIMESTAMP)
        ):
            return {"type": "long", "logicalType": "timestamp-micros"}
        return {"type": "long", "logicalType": "local-timestamp-micros"}
    if isinstance(column_type, sa.Date):
        return {"type": "int", "logicalType": "date"}
    if isinstance(column_type, sa.Time):
        return {"type": "long", "logicalType": "time-micros"}
    if isinstance(column_type, sa.Uuid):
        return {"type": "string", "logicalType": "uuid"}
    if isinstance(column_type, sa.JSON):
        return "string"
    if isinstance(column_type, sa.String | sa.Enum):
        return "string"
    if isinstance(column_type, sa.types._Binary):
        return "bytes"
    raise UnmappableType(f"no lossless Avro type for {type(column_type).__name__}")


def _is_single_precision(column_type: sa.Float[Any], dialect: str) -> bool:
    if dialect == "sqlite":
        return False  # SQLite stores every REAL in 8 bytes, whatever the declared type
    if isinstance(column_type, oracle.BINARY_FLOAT):
        return True
    if isinstance(column_type, mysql.FLOAT):
        # MySQL FLOAT(p) is 4 bytes up to p = 24, 8 bytes above.
        return column_type.precision is None or column_type.precision <= 24
    return isinstance(column_type, sa.REAL) and not isinstance(column_type, sa.Double)


def _integer(column_type: sa.Integer, dialect: str, unconstrained: UnconstrainedNumber) -> AvroType:
    if dialect == "oracle":
        return _number(ORACLE_INTEGER_DIGITS, 0, unconstrained)
    if dialect == "sqlite":
        return "long"  # SQLite stores every integer in up to 8 bytes, whatever the declared type
    unsigned = bool(getattr(column_type, "unsigned", False))
    if isinstance(column_type, sa.BigInteger):
        return decimal(20, 0) if unsigned else "long"
    if unsigned and isinstance(column_type, mysql.INTEGER):
        return "long"
    return "int"


def _number(precision: int | None, scale: int | None, unconstrained: UnconstrainedNumber) -> AvroType:
    if precision is None and scale is None:
        return _unconstrained(unconstrained)
    if precision is None:
        # NUMBER(*, s): 38 significant digits at scale s.
        precision = ORACLE_INTEGER_DIGITS
    # SQL: NUMERIC(p) means scale 0.
    scale = 0 if scale is None else scale
    if scale < 0:
        # NUMBER(p, -s) rounds to 10^s: integers of up to p + s digits.
        precision, scale = precision - scale, 0
    if scale == 0 and precision <= LONG_DIGITS:
        return "long"
    if scale > BIGNUMERIC_MAX_SCALE or precision - scale > BIGNUMERIC_MAX_INTEGER_DIGITS:
        # Beyond BigQuery's widest decimal: keep the exact text.
        return "string"
    # Oracle allows scale > precision (NUMBER(2, 5) holds 0.00099); Avro needs scale <= precision.
    return decimal(max(precision, scale), scale)


def _unconstrained(choice: UnconstrainedNumber) -> AvroType:
    if choice is UnconstrainedNumber.BIGNUMERIC:
        return decimal(BIGNUMERIC_MAX_INTEGER_DIGITS + BIGNUMERIC_MAX_SCALE, BIGNUMERIC_MAX_SCALE)
    if choice is UnconstrainedNumber.DOUBLE:
        return "double"
    return "string"
