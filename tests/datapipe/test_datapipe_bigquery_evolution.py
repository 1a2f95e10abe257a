"""BigQuery's in-place evolution rules: only NULLABLE additions and REQUIRED->NULLABLE relaxations apply."""

from __future__ import annotations

from typing import Any

import pytest

from datapipe.bigquery_evolution import bigquery_changes

ID = {"name": "id", "type": "INTEGER", "mode": "REQUIRED"}
NAME = {"name": "name", "type": "STRING", "mode": "NULLABLE"}


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ([ID, NAME], []),
        ([ID, NAME, {"name": "x", "type": "DATE", "mode": "NULLABLE"}], ["x: added as a NULLABLE column (in place)"]),
        ([ID, NAME, {"name": "x", "type": "DATE", "mode": "REQUIRED"}],
         ["x: added as a REQUIRED column (needs the table recreated)"]),
        ([{**ID, "mode": "NULLABLE"}, NAME], ["id: mode changes from REQUIRED to NULLABLE (in place)"]),
        ([ID, {**NAME, "mode": "REQUIRED"}],
         ["name: mode changes from NULLABLE to REQUIRED (needs the table recreated)"]),
        ([ID], ["name: dropped (needs the table recreated)"]),
        ([{**ID, "type": "NUMERIC", "precision": "20", "scale": "0"}, NAME],
         ["id: type widens from INTEGER to NUMERIC(20, 0) (in place)"]),
        ([{**ID, "type": "NUMERIC", "precision": "12", "scale": "2"}, NAME],  # 10 integer digits < INT64's 19
         ["id: type changes from INTEGER to NUMERIC(12, 2) (needs the table recreated)"]),
        ([ID, {**NAME, "type": "INTEGER"}], ["name: type changes from STRING to INTEGER (needs the table recreated)"]),
    ],
)
def test_should_tell_in_place_changes_from_those_that_recreate(new: list[dict[str, Any]], expected: list[str]) -> None:
    assert [str(c) for c in bigquery_changes([ID, NAME], new)] == expected


AMOUNT = {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE", "precision": "12", "scale": "2"}


@pytest.mark.parametrize(
    ("new", "in_place"),
    [
        ({**AMOUNT, "precision": "14"}, True),  # more integer digits
        ({**AMOUNT, "precision": "13", "scale": "3"}, True),  # one more fractional digit, same integer digits
        ({**AMOUNT, "precision": "12", "scale": "3"}, False),  # an integer digit fewer
        ({**AMOUNT, "precision": "11"}, False),
        ({**AMOUNT, "type": "BIGNUMERIC", "precision": "40", "scale": "10"}, True),
        ({**AMOUNT, "type": "FLOAT", "precision": None}, True),  # BigQuery allows NUMERIC -> FLOAT64
    ],
)
def test_should_allow_the_decimal_widenings_bigquery_allows(new: dict[str, Any], in_place: bool) -> None:
    new = {k: v for k, v in new.items() if v is not None}
    [change] = bigquery_changes([AMOUNT], [new])
    assert change.in_place is in_place
