"""Reproducible performance measurements of the versioning fast paths beside their peers (not timed tests)."""
