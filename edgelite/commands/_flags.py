"""Library errors name parameters (``stride_s``, ``fmt``...); the CLI shows its flags instead."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator


def to_flags(message: str, names: dict[str, str]) -> str:
    """Replace whole-word parameter names in ``message`` by their CLI flags (``{"stride_s": "--stride"}``)."""
    for name, flag in names.items():
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w])", flag, message)
    return message


@contextmanager
def cli_names(names: dict[str, str]) -> Iterator[None]:
    """Re-raise :class:`EdgeliteError` and ``ValueError`` from the block with parameter names mapped to flags.

    The exception type is kept (so the CLI's one-line error handling applies); a plain ValueError
    whose message changed becomes an :class:`EdgeliteError` (a user-facing bad value).
    """
    from edgelite.runtime.core.errors import EdgeliteError

    try:
        yield
    except (EdgeliteError, ValueError) as e:
        msg = str(e)
        new = to_flags(msg, names)
        if new == msg:
            raise
        cls = type(e) if isinstance(e, EdgeliteError) else EdgeliteError
        try:
            err = cls(new)
        except TypeError:
            raise e from None
        raise err from None
