"""pipeline-platform's data and schema versioning library.

Versioned Avro schemas per subject in a registry folder, compatibility checks with Schema Registry modes,
validation of records, upgrades and downgrades between versions, SQL migrations per database and exports
to other schema formats. It knows nothing of Pulumi; the platform's pre-deploy gate uses it through this
public API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from versioning.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

# Names are imported when first used (versioning.lazy_exports).
_EXPORTS: dict[str, str] = {
    "Compatibility": "versioning.compatibility",
    "CompatibilityResult": "versioning.compatibility",
    "Incompatibility": "versioning.compatibility",
    "IncompatibilityKind": "versioning.compatibility",
    "check_compatibility": "versioning.compatibility",
    "check_reader_writer": "versioning.compatibility",
    "Problem": "versioning.errors",
    "RegistryError": "versioning.errors",
    "SchemaError": "versioning.errors",
    "StepError": "versioning.errors",
    "UnknownSubjectError": "versioning.errors",
    "UnknownVersionError": "versioning.errors",
    "VersioningError": "versioning.errors",
    "DataVersionManager": "versioning.facade",
    "IncompatibleSchemaError": "versioning.registry",
    "Registry": "versioning.registry",
    "Subject": "versioning.registry",
    "Schema": "versioning.schema",
    "parse_schema": "versioning.schema",
    "read_schema_file": "versioning.schema",
}


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())

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
