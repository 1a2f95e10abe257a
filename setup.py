"""The project's one compiled part, built when the project is installed; all other metadata is in pyproject.toml.

RowValidator's plain-value scan (versioning/validation/_plain.c) is optional: without a C compiler and Python's
headers the install goes on, and RowValidator runs the same check in Python (same answers, slower; see
versioning/validation/rows.py). CI requires it (tests/versioning/test_validation_plain_scan.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("versioning.validation._plain", ["versioning/validation/_plain.c"], optional=True),
    ]
)
