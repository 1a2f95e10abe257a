"""Data files for the versioning tools: JSON Lines, Avro and Parquet, streamed in batches.

Records are dicts of the Python values fastavro reads and writes (str, int, float, bool, None, bytes,
Decimal, date, datetime, time, UUID, lists, dicts). Reading yields :class:`Batch` objects whose positions
(line numbers for JSON Lines, record numbers otherwise) let errors say where a record came from; writing is
atomic, so a failure never leaves a partial file at the destination. See :mod:`.json_values` for how
logical types look in JSON Lines files.
"""

from versioning.datafiles.arrow_types import arrow_schema
from versioning.datafiles.atomic import atomic_output
from versioning.datafiles.avro_types import AvroSchema
from versioning.datafiles.batch import Batch
from versioning.datafiles.errors import DataFileError, ParquetSchemaError
from versioning.datafiles.formats import DataFormat, detect_format
from versioning.datafiles.streaming import DEFAULT_BATCH_SIZE, read_batches, write_batches

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "AvroSchema",
    "Batch",
    "DataFileError",
    "DataFormat",
    "ParquetSchemaError",
    "arrow_schema",
    "atomic_output",
    "detect_format",
    "read_batches",
    "write_batches",
]
