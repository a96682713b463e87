"""Errors that edgelite reports to users as one clear line (the CLI prints them without a traceback)."""

from __future__ import annotations


class EdgeliteError(Exception):
    """A problem with the user's input, files or environment, worded for the user.

    The message should name the file/field and say what was expected, e.g.
    ``"data/7.csv line 12: expected 4 numeric columns (t,x,y,z), got 3"``.
    """


class DataError(EdgeliteError, ValueError):
    """An input file or record that cannot be used (malformed, empty, wrong shape)."""


class ModelError(EdgeliteError, ValueError):
    """A model file that cannot be used (not TFLite, truncated, wrong signature, missing metadata)."""


class RuntimeMissingError(EdgeliteError, ImportError):
    """No TFLite interpreter package (ai-edge-litert or tflite-runtime) is installed."""


class LimitError(DataError):
    """An input exceeds one of the resource limits of :mod:`edgelite.runtime.core.limits`.

    ``limit`` is the field name (e.g. ``"max_file_bytes"``), ``value`` the configured limit; the
    message says how to raise it (the ``EDGELITE_MAX_*`` environment variable).
    """

    def __init__(self, message: str, limit: str = "", value: float | int | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
