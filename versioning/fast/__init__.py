"""Fast paths of the versioning library: the same answers as the reference paths, for data at scale.

- rows (lists of dicts): :class:`RowValidator` (msgspec) and :class:`RowUpgrader` (a compiled plan);
- columns (Arrow tables and record batches): :mod:`versioning.fast.columns`;
- files (Parquet, Avro container files), streamed batch by batch: :mod:`versioning.fast.files`;
- compatibility of a new version against many earlier ones: :mod:`versioning.fast.compatibility`.

Every fast path falls back to the reference where it cannot be exact, so results and errors are the same.
"""

from versioning.fast.row_upgrade import RowUpgrader
from versioning.fast.rows import RowValidator

__all__ = ["RowUpgrader", "RowValidator"]
