"""Resource limits: every reader, the model reader and the stream servers stay inside these bounds.

Each limit is a field of the frozen dataclass :class:`Limits` with a safe default
(:data:`DEFAULT_LIMITS`). :func:`get_limits` returns the defaults overridden by environment
variables named ``EDGELITE_`` + the field name in upper case (``EDGELITE_MAX_FILE_BYTES=2e9``),
then by keyword arguments. Exceeding a limit raises :class:`~edgelite.runtime.core.errors.LimitError`
whose message names the limit, its value and the environment variable that raises it
(:func:`check`).

=========================== ================ ====================================================
field                       default          bounds
=========================== ================ ====================================================
max_file_bytes              512 MiB          bytes read from one input file (CSV, capture, npy, model)
max_member_bytes            64 MiB           inflated bytes of one zip member (a CSV inside a Sensor Logger zip)
max_member_ratio            200              inflated / compressed size of one archive member
max_archive_bytes           8 GiB            inflated bytes of one whole archive (tar)
max_archive_members         200,000          members of one archive
max_frames                  20,000           frames (of 543 landmarks) per sign sequence (11 min at 30 fps),
                                             read from a file or passed to a model
max_input_samples           1,000,000        samples along T of one other model input (5.5 h at 50 Hz; 12 MB for [T,3])
max_parquet_rows            5,000,000        rows of one parquet sequence (≈ 9,200 frames × 543), from its footer
max_sequences               1,000,000        sequences per dataset
max_request_bytes           1 MiB            bytes of one HTTP request body / WebSocket message
max_request_samples         20,000           samples per request / message
max_request_span_s          60               seconds of device time one request may cover
                                             (bounds resampling and inferences per request)
max_device_samples_per_s    2,000            sustained samples per second per device
max_device_span_per_s       4                sustained seconds of device time per second per device
                                             (with the span cap: bounds inferences per device and second)
max_connections             64               concurrent HTTP connections (then 503 + Retry-After)
header_deadline_s           10               whole-request deadline for the request line + headers
body_deadline_s             30               whole-request deadline for the body
=========================== ================ ====================================================

Memory: the CSV readers hold the text and its parsed rows (about 10× the text size at peak), the parquet
reader about 40 bytes per row; the defaults keep a single input well under a few hundred MB except for
CSV files near ``max_file_bytes``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, fields

from edgelite.runtime.core.errors import LimitError

ENV_PREFIX = "EDGELITE_"


@dataclass(frozen=True)
class Limits:
    """Resource limits (see the module docstring for units and defaults)."""

    max_file_bytes: int = 512 << 20
    max_member_bytes: int = 64 << 20
    max_member_ratio: float = 200.0
    max_archive_bytes: int = 8 << 30
    max_archive_members: int = 200_000
    max_frames: int = 20_000
    max_input_samples: int = 1_000_000
    max_parquet_rows: int = 5_000_000
    max_sequences: int = 1_000_000
    max_request_bytes: int = 1 << 20
    max_request_samples: int = 20_000
    max_request_span_s: float = 60.0
    max_device_samples_per_s: float = 2_000.0
    max_device_span_per_s: float = 4.0
    max_connections: int = 64
    header_deadline_s: float = 10.0
    body_deadline_s: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
                raise LimitError(f"limit {f.name} must be a positive finite number, got {v!r}", f.name, None)

    def replace(self, **kw: float) -> "Limits":
        """A copy with some limits changed."""
        return dataclasses.replace(self, **kw)


DEFAULT_LIMITS = Limits()


def env_name(field_name: str) -> str:
    """The environment variable that overrides ``field_name`` (``max_file_bytes`` → ``EDGELITE_MAX_FILE_BYTES``)."""
    return ENV_PREFIX + field_name.upper()


def _from_env(name: str, kind: type) -> float | int | None:
    raw = os.environ.get(env_name(name))
    if raw is None or not raw.strip():
        return None
    try:
        v = float(raw)
    except ValueError:
        raise LimitError(f"{env_name(name)}={raw!r} is not a number", name, None) from None
    if kind is int:
        if not math.isfinite(v):
            raise LimitError(f"{env_name(name)}={raw!r} is not a finite number", name, None)
        return int(v)
    return v


def get_limits(base: Limits | None = None, **overrides: float) -> Limits:
    """``base`` (default :data:`DEFAULT_LIMITS`) overridden by ``EDGELITE_MAX_*`` variables, then ``overrides``."""
    base = base or DEFAULT_LIMITS
    kw: dict[str, float] = {}
    for f in fields(Limits):
        kind = int if isinstance(getattr(DEFAULT_LIMITS, f.name), int) else float
        v = _from_env(f.name, kind)
        if v is not None:
            kw[f.name] = v
    unknown = [k for k in overrides if k not in {f.name for f in fields(Limits)}]
    if unknown:
        raise TypeError(f"unknown limit(s): {', '.join(unknown)}")
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return dataclasses.replace(base, **kw) if kw else base


def limit_error(source: str, name: str, value: float, limit: float, what: str) -> LimitError:
    """A :class:`LimitError`: ``"<source>: <what> <value> exceeds limit <name>=<limit> (raise it with EDGELITE_…)"``."""
    return LimitError(
        f"{source}: {what} {_fmt(value)} exceeds the limit {name}={_fmt(limit)} "
        f"(set {env_name(name)} to raise it)",
        name,
        limit,
    )


def check(source: str, name: str, value: float, what: str, limits: Limits | None = None) -> None:
    """Raise :class:`LimitError` if ``value`` exceeds limit ``name`` of ``limits`` (default :func:`get_limits`)."""
    lim = getattr(limits or get_limits(), name)
    if value > lim:
        raise limit_error(source, name, value, lim, what)


def _fmt(v: float) -> str:
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.4g}"
    return f"{int(v):,}"
