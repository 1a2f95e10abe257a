"""How python-oracledb must fetch Oracle values so that none changes on the way to Avro.

By default python-oracledb fetches every ``NUMBER`` without a scale (bare ``NUMBER``, ``FLOAT(b)``) as a Python
float, rounding anything past 15-17 significant digits, and ``TIMESTAMP WITH TIME ZONE`` as a naive datetime
whose zone is dropped. :func:`output_type_handler` (set on every extraction connection by
:func:`datapipe.source.connect`) fetches instead:

- every ``NUMBER``/``FLOAT`` as :class:`decimal.Decimal` (exact: Oracle numbers are decimal);
- ``BINARY_FLOAT``/``BINARY_DOUBLE`` as floats, unchanged: they are the IEEE values Oracle stores;
- ``TIMESTAMP WITH TIME ZONE`` as text in the session's ISO 8601 format (:data:`SESSION_SETUP`), turned into an
  aware datetime by :func:`parse_timestamp_tz`;
- ``CLOB``/``NCLOB``/``BLOB`` as ``str``/``bytes`` (not LOB locators, one round trip each).

``TIMESTAMP WITH LOCAL TIME ZONE`` arrives in the session's zone, which :data:`SESSION_SETUP` pins to UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

SESSION_SETUP = (
    "ALTER SESSION SET TIME_ZONE = 'UTC'",
    "ALTER SESSION SET NLS_TIMESTAMP_TZ_FORMAT = 'YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM'",
    "ALTER SESSION SET NLS_NUMERIC_CHARACTERS = '.,'",
)
"""Statements run on every Oracle connection: UTC session zone, ISO 8601 text for zoned timestamps."""

_TIMESTAMP_TZ = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([+-]\d{1,2}):(\d{2})$")


def parse_timestamp_tz(text: str) -> dt.datetime:
    """An Oracle ``TIMESTAMP WITH TIME ZONE`` in the session format (``2025-01-31T23:00:00.123456+05:30``) as an
    aware datetime with the same offset. Oracle keeps up to 9 fractional digits; digits past the 6th (below a
    microsecond, which Avro's ``timestamp-micros`` cannot hold) are refused rather than cut off."""
    match = _TIMESTAMP_TZ.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a timestamp with time zone in the session format YYYY-MM-DDTHH24:MI:SS")
    base, fraction, hours, minutes = match.groups()
    fraction = fraction or ""
    if fraction[6:].strip("0"):
        raise ValueError(f"{text!r} has digits below a microsecond, which timestamp-micros cannot hold")
    sign = -1 if hours.startswith("-") else 1
    offset = dt.timedelta(hours=abs(int(hours)), minutes=int(minutes)) * sign
    moment = dt.datetime.fromisoformat(base).replace(microsecond=int((fraction + "000000")[:6]))
    return moment.replace(tzinfo=dt.timezone(offset))


def fetch_plan(type_name: str) -> tuple[str, Callable[[Any], Any] | None] | None:
    """What a column of the python-oracledb type ``type_name`` (e.g. ``DB_TYPE_NUMBER``) is fetched as, and
    how it is converted afterwards: ``(fetch type name, out-converter)``, or ``None`` for the driver's default."""
    if type_name == "DB_TYPE_NUMBER":
        return "Decimal", None
    if type_name == "DB_TYPE_TIMESTAMP_TZ":
        return "DB_TYPE_VARCHAR", parse_timestamp_tz
    if type_name in ("DB_TYPE_CLOB", "DB_TYPE_NCLOB"):
        return "DB_TYPE_LONG", None
    if type_name == "DB_TYPE_BLOB":
        return "DB_TYPE_LONG_RAW", None
    return None


def output_type_handler(cursor: Any, metadata: Any) -> Any:
    """python-oracledb's ``outputtypehandler``: a fetch variable per :func:`fetch_plan`, else ``None``."""
    import oracledb

    type_code = metadata.type_code
    plan = fetch_plan(getattr(type_code, "name", str(type_code)))
    if plan is None:
        return None
    fetch_type, outconverter = plan
    typ: Any = Decimal if fetch_type == "Decimal" else getattr(oracledb, fetch_type)
    return cursor.var(typ, arraysize=cursor.arraysize, outconverter=outconverter)
