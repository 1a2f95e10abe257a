"""Moving records between versions along a subject's steps, up and down.

- :mod:`versioning.upgrade.operations`: the step operations (add, copy, rename, remove, promote, call and the
  implied fill and drop), each applying itself to a record and knowing its inverse, so a step's downgrade is
  derived from its upgrade (``Step.down``); :meth:`Step.upgrade`/:meth:`Step.downgrade` and
  :meth:`Subject.convert` are the reference;
- :mod:`versioning.upgrade.plan`: the same operations run once over field names, the plan every fast
  implementation compiles;
- :class:`RowUpgrader` (:mod:`versioning.upgrade.rows`): lists of dicts, one generated dict display per record;
- :class:`RowPipeline` / :func:`upgrade_rows` (:mod:`versioning.upgrade.pipeline`): validate and move a batch,
  a record that cannot move rejected with its reason;
- :class:`ColumnUpgrader` (:mod:`versioning.upgrade.columns`): Arrow tables and record batches.

Whole data files are :mod:`versioning.datafiles.service`'s. One property suite
(``tests/versioning/test_upgrade_contract.py``) runs against every implementation.
"""

from versioning.upgrade.columns import ColumnUpgrader
from versioning.upgrade.operations import Step
from versioning.upgrade.pipeline import RowPipeline, UpgradedRows, upgrade_rows
from versioning.upgrade.rows import RowUpgrader

__all__ = ["ColumnUpgrader", "RowPipeline", "RowUpgrader", "Step", "UpgradedRows", "upgrade_rows"]
