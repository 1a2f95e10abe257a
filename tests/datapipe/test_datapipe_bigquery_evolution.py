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
         ["id: type changes from INTEGER to NUMERIC(20, 0) (needs the table recreated)"]),
    ],
)
def test_should_tell_in_place_changes_from_those_that_recreate(new: list[dict[str, Any]], expected: list[str]) -> None:
    assert [str(c) for c in bigquery_changes([ID, NAME], new)] == expected
