"""The extractor the DAGs run (``python -m datapipe.extract``); see :mod:`datapipe.extract.extractor`."""

from datapipe.extract.extractor import ExtractResult, Interval, extract_table

__all__ = ["ExtractResult", "Interval", "extract_table"]
