"""Compatibility of schema versions under Schema Registry modes, by the Avro specification's resolution rules.

One entry point, two implementations side by side:

- :mod:`versioning.compatibility.reference`: the reader/writer walk (:func:`check_reader_writer`) and the
  modes over it (:func:`check_compatibility`), the definition of the answer;
- :mod:`versioning.compatibility.cached`: :class:`CompatibilityChecker`, the same walk with its results kept
  per field-type pair, for checking a new version against hundreds of earlier ones. One property suite
  (``tests/versioning/test_compatibility_contract.py``) holds both to the same answers.
"""

from versioning.compatibility.cached import CompatibilityChecker
from versioning.compatibility.reference import (
    Compatibility,
    CompatibilityResult,
    Incompatibility,
    IncompatibilityKind,
    check_compatibility,
    check_reader_writer,
)

__all__ = [
    "Compatibility",
    "CompatibilityChecker",
    "CompatibilityResult",
    "Incompatibility",
    "IncompatibilityKind",
    "check_compatibility",
    "check_reader_writer",
]
