"""pipeline-platform's data and schema versioning library.

Versioned Avro schemas per subject in a registry folder, compatibility checks with Schema Registry modes,
validation of records, upgrades and downgrades between versions, SQL migrations per database and exports
to other schema formats. It knows nothing of Pulumi; the platform's pre-deploy gate uses it through this
public API.
"""

from versioning.compatibility import (
    Compatibility,
    CompatibilityResult,
    Incompatibility,
    IncompatibilityKind,
    check_compatibility,
    check_reader_writer,
)
from versioning.errors import (
    Problem,
    RegistryError,
    SchemaError,
    StepError,
    UnknownSubjectError,
    UnknownVersionError,
    VersioningError,
)
from versioning.facade import DataVersionManager
from versioning.registry import IncompatibleSchemaError, Registry, Subject
from versioning.schema import Schema, parse_schema, read_schema_file

__all__ = [
    "Compatibility",
    "CompatibilityResult",
    "DataVersionManager",
    "Incompatibility",
    "IncompatibilityKind",
    "IncompatibleSchemaError",
    "Problem",
    "Registry",
    "RegistryError",
    "Schema",
    "SchemaError",
    "StepError",
    "Subject",
    "UnknownSubjectError",
    "UnknownVersionError",
    "VersioningError",
    "check_compatibility",
    "check_reader_writer",
    "parse_schema",
    "read_schema_file",
]
