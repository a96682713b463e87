"""Sensor Logger app exports: a ``.zip`` or an extracted folder holding ``Accelerometer.csv``
(``time`` ns, ``seconds_elapsed``, ``z, y, x``: mapped by header name) and ``Metadata.csv``
(platform, device name, standardisation). label = parent folder name, group = device name.

Units: ``Accelerometer.csv`` (user acceleration, gravity removed) is m/s² on iOS and Android;
``AccelerometerUncalibrated.csv`` is in g on iOS unless "Standardise Units & Frames" is on
(Sensor Logger UNITS.md). Axis sign: iOS differs from Android by a sign on all three axes
unless standardised; iOS values are negated so every recording follows the Android
convention (a phone at rest face up reads +9.8 m/s² on z in gravity-including signals).
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from edgelite.runtime.accel.io.common import (
    STANDARD_GRAVITY,
    Recording,
    _csv_rows,
    _decode,
    _natural_key,
    _parse_table,
    _rate_from_t,
    _read_bytes,
    _time_meta,
    _warn_skipped,
)
from edgelite.runtime.core.errors import DataError, LimitError
from edgelite.runtime.core.limits import Limits, check, get_limits, limit_error

# Sensor Logger files that hold acceleration, in the order tried when no sensor is asked for.
_SL_SENSORS = ("Accelerometer", "TotalAcceleration", "AccelerometerUncalibrated")


_SL_GRAVITY = {"Accelerometer": False, "TotalAcceleration": True, "AccelerometerUncalibrated": True}


# What zipfile raises on corrupt, crafted or unsupported archives: bad headers (BadZipFile, ValueError,
# EOFError), deflate errors (zlib.error), encrypted members (RuntimeError), unknown compression
# (NotImplementedError), I/O problems and symlink loops (OSError).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError,
               KeyError, IndexError, OverflowError)

_RATIO_MIN_BYTES = 1 << 20  # the ratio limit applies to members that inflate to more than this


def _zip_names(path: Path, limits: Limits | None = None) -> list[str]:
    """Member names of a zip; DataError if it is not a readable zip, LimitError if it is too big."""
    lim = limits or get_limits()
    try:
        check(str(path), "max_file_bytes", path.stat().st_size, "zip size (bytes)", lim)
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            check(str(path), "max_archive_members", len(infos), "members", lim)
            return [i.filename for i in infos]
    except LimitError:
        raise
    except _ZIP_ERRORS as e:
        raise DataError(f"{path}: not a readable zip archive ({type(e).__name__}: {e})") from None


def _zip_member_bytes(path: Path, name: str, limits: Limits | None = None) -> bytes:
    """One member's inflated bytes, checked BEFORE inflating (declared size, compression ratio) and capped
    WHILE inflating (the declared size may lie): a zip bomb raises LimitError, never fills memory."""
    lim = limits or get_limits()
    where = f"{path}:{name}"
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(name)
            if info.flag_bits & 0x1:
                raise DataError(f"{where}: member is encrypted; export the recording without a password")
            check(where, "max_member_bytes", info.file_size, "declared inflated size (bytes)", lim)
            if info.file_size > _RATIO_MIN_BYTES:
                ratio = info.file_size / max(1, info.compress_size)
                check(where, "max_member_ratio", ratio, "compression ratio", lim)
            by_ratio = info.compress_size * lim.max_member_ratio
            cap = int(min(lim.max_member_bytes, max(_RATIO_MIN_BYTES, by_ratio)))
            parts, total = [], 0
            with zf.open(info) as fh:
                while chunk := fh.read(1 << 20):
                    total += len(chunk)
                    if total > cap:
                        if cap == lim.max_member_bytes:
                            raise limit_error(where, "max_member_bytes", total, cap, "inflated size (bytes) at least")
                        raise limit_error(where, "max_member_ratio", total / max(1, info.compress_size),
                                          lim.max_member_ratio, "compression ratio at least")
                    parts.append(chunk)
            return b"".join(parts)
    except (DataError, LimitError):
        raise
    except _ZIP_ERRORS as e:
        raise DataError(f"{where}: cannot read zip member ({type(e).__name__}: {e})") from None


def _zip_has_sensor(path: Path) -> bool:
    try:
        return any(Path(n).stem in _SL_SENSORS and n.endswith(".csv") for n in _zip_names(path))
    except DataError:
        return False


def _dir_is_sl_recording(d: Path) -> bool:
    return any((d / f"{s}.csv").is_file() for s in _SL_SENSORS)


class _SLSource:
    """One Sensor Logger recording: a zip or an extracted folder (members read by base name)."""

    def __init__(self, path: Path, extracted: Path | None = None):
        self.path = path
        self.extracted = extracted  # extracted folder next to the zip, if any
        self._zip = path.suffix.lower() == ".zip"
        if self._zip:
            self._members = {Path(n).name: n for n in _zip_names(path) if not n.endswith("/")}
        else:
            try:
                self._members = {f.name: f.name for f in path.iterdir() if f.is_file()}
            except OSError as e:
                raise DataError(f"{path}: cannot list the folder ({e.strerror or e})") from None

    def names(self) -> list[str]:
        return sorted(self._members)

    def has(self, name: str) -> bool:
        return name in self._members

    def where(self, name: str) -> str:
        return f"{self.path}:{self._members[name]}" if self._zip else str(self.path / name)

    def read(self, name: str) -> str:
        if self._zip:
            return _decode(_zip_member_bytes(self.path, self._members[name]))
        return _decode(_read_bytes(self.path / name))


def _sl_metadata(src: _SLSource) -> tuple[dict, str | None]:
    """Metadata.csv as a dict (header row + value row) and where it came from."""
    cands = [src]
    if src.extracted is not None:
        cands.append(_SLSource(src.extracted))
    if not src._zip:
        z = src.path.parent / (src.path.name + ".zip")
        if z.is_file():
            try:
                cands.append(_SLSource(z))
            except DataError:
                pass
    for c in cands:
        if c.has("Metadata.csv"):
            rows = [r for r in _csv_rows(c.read("Metadata.csv"), c.where("Metadata.csv")) if any(x.strip() for x in r)]
            if len(rows) >= 2:
                return {k.strip(): v.strip() for k, v in zip(rows[0], rows[1])}, c.where("Metadata.csv")
    return {}, None


def sensorlogger_to_canonical(
    xyz: np.ndarray, sensor: str, platform: str | None, standardised: bool | None
) -> tuple[np.ndarray, dict]:
    """Convert Sensor Logger x,y,z values to m/s², Android axis convention.

    Args:
        xyz: ``[T, 3]`` values as found in the file (columns already in x, y, z order).
        sensor: "Accelerometer", "TotalAcceleration" or "AccelerometerUncalibrated".
        platform: Metadata.csv ``platform`` ("ios"/"android"), None if unknown.
        standardised: Metadata.csv ``standardisation``, None if unknown.

    Returns:
        ``([T, 3] float64 m/s², info)`` with ``info`` = units_in_file, sign_flipped, axes_convention.
    """
    ios_raw = platform == "ios" and not standardised
    units = "m/s^2"
    inferred = None
    if sensor == "AccelerometerUncalibrated":
        if ios_raw:
            units = "g"
        elif platform is None:
            # unknown platform: decide by magnitude (gravity-including: ~1 in g, ~9.8 in m/s²)
            med = float(np.median(np.linalg.norm(xyz, axis=1))) if len(xyz) else 0.0
            units = "g" if med < 3.0 else "m/s^2"
            inferred = f"median |a| in file = {med:.4g} (no Metadata.csv)"
    out = xyz * STANDARD_GRAVITY if units == "g" else xyz.copy()
    if ios_raw:
        out = -out
    info = {
        "units_in_file": units,
        "units_evidence": inferred
        or f"Sensor Logger {sensor}.csv, platform={platform}, standardisation={standardised}",
        "sign_flipped": bool(ios_raw),
        "axes_convention": "android" if platform is not None else "as in file (platform unknown)",
    }
    return out, info


def _sl_sensor(src: _SLSource, sensor: str | None) -> str:
    """The acceleration file to read: ``sensor`` if given, else the first of :data:`_SL_SENSORS` present."""
    if sensor is not None:
        if not src.has(f"{sensor}.csv"):
            raise DataError(f"{src.path}: no {sensor}.csv (has: {', '.join(src.names()) or 'nothing'})")
        return sensor
    chosen = next((s for s in _SL_SENSORS if src.has(f"{s}.csv")), None)
    if chosen is None:
        raise DataError(
            f"{src.path}: no accelerometer file ({', '.join(s + '.csv' for s in _SL_SENSORS)}); "
            f"has: {', '.join(src.names()) or 'nothing'}"
        )
    return chosen


def _sl_times(table, cols: list[str], where: str) -> tuple[np.ndarray, str, int | None]:
    """``(t [T] seconds from the first sample, rate source, epoch ns of t = 0 or None)``."""
    if "time" in cols:
        if table.exact is not None:  # integer ns: exact differences (float64 of 1.7e18 ns is 256 ns coarse)
            time0_ns = int(table.exact.min())
            return (table.exact - time0_ns).astype(np.float64) / 1e9, "time (ns)", time0_ns
        tt = table.values[:, cols.index("time")]
        return (tt - tt.min()) / 1e9, "time (ns)", int(tt.min())
    if "seconds_elapsed" in cols:
        return table.values[:, cols.index("seconds_elapsed")], "seconds_elapsed", None
    raise DataError(f"{where}: header {','.join(table.header)!r} has neither 'time' nor 'seconds_elapsed'")


def _sl_one(src: _SLSource, label: str, strict: bool, sensor: str | None) -> Recording:
    """One Sensor Logger recording (zip or folder) → :class:`Recording` in m/s², Android axes, rate from time."""
    stem = src.path.stem if src._zip else src.path.name
    chosen = _sl_sensor(src, sensor)
    where = src.where(f"{chosen}.csv")
    table = _parse_table(src.read(f"{chosen}.csv"), where, None, "time,seconds_elapsed,z,y,x", strict,
                         header_mode="required", exact_col_name="time")
    _warn_skipped(where, table)
    cols = [c.strip().lower() for c in table.header]  # type: ignore[union-attr]
    missing = [c for c in ("x", "y", "z") if c not in cols]
    if missing:
        raise DataError(f"{where}: header {','.join(table.header)!r} lacks column(s) {', '.join(missing)}")
    xyz = table.values[:, [cols.index("x"), cols.index("y"), cols.index("z")]]
    t_raw, rate_source, time0_ns = _sl_times(table, cols, where)
    rate = _rate_from_t(t_raw, where)
    md, md_where = _sl_metadata(src)
    platform = md.get("platform", "").lower() or None
    std_s = md.get("standardisation", "").lower()
    standardised = None if not std_s else std_s in ("true", "1", "yes")
    data, info = sensorlogger_to_canonical(xyz, chosen, platform, standardised)
    meta = {"sensor": chosen, "device": md.get("device name"), "platform": platform, "standardisation": standardised,
            "app_version": md.get("appVersion"), "recording_time": md.get("recording time"),
            "metadata_file": md_where, "files": src.names(), "rate_source": rate_source,
            "time0_ns": time0_ns,  # epoch ns of the earliest sample (t = 0)
            **info, **_time_meta(t_raw)}
    if src.extracted is not None:
        meta["extracted_copy"] = str(src.extracted)
    device = md.get("device name") or md.get("device id") or "unknown-device"
    return Recording(name=f"{label}/{stem}", source=where, data=data.astype(np.float32), rate_hz=rate,
                     t=t_raw - t_raw.min(), label=label, label_from="folder", group=device,
                     gravity=_SL_GRAVITY[chosen], skipped_rows=table.skipped, meta=meta)


def _sl_sources(root: Path) -> list[_SLSource]:
    """Every recording under ``root``: zips and extracted folders, a zip and its folder counted once."""
    zips: dict[Path, Path] = {}
    dirs: dict[Path, Path] = {}
    for f in root.rglob("*.zip"):
        if f.is_file() and _zip_has_sensor(f):
            zips[f.with_suffix("")] = f
    for f in root.rglob("*.csv"):
        if f.stem in _SL_SENSORS and f.is_file():
            dirs[f.parent] = f.parent
    keys = sorted(set(zips) | set(dirs), key=_natural_key)
    out = []
    for k in keys:
        if k in zips:
            out.append(_SLSource(zips[k], extracted=dirs.get(k)))
        else:
            out.append(_SLSource(dirs[k]))
    return out


def _read_sensorlogger(p: Path, strict: bool, sensor: str | None) -> list[Recording]:
    if sensor is not None and sensor not in _SL_SENSORS:
        raise DataError(f"unknown Sensor Logger sensor {sensor!r}; expected one of {', '.join(_SL_SENSORS)}")
    if p.is_file():
        if p.suffix.lower() == ".zip":
            src = _SLSource(p)
            return [_sl_one(src, p.parent.name, strict, sensor)]
        if p.stem in _SL_SENSORS:
            src = _SLSource(p.parent)
            return [_sl_one(src, p.parent.parent.name, strict, p.stem)]
        raise DataError(f"{p}: not a Sensor Logger zip or accelerometer CSV")
    if _dir_is_sl_recording(p):
        return [_sl_one(_SLSource(p), p.parent.name, strict, sensor)]
    sources = _sl_sources(p)
    if not sources:
        raise DataError(f"{p}: no Sensor Logger recordings (zips or folders with Accelerometer.csv) found")
    recs = [_sl_one(s, s.path.parent.name, strict, sensor) for s in sources]
    unknown = [r for r in recs if r.meta.get("platform") is None]
    if unknown:
        warnings.warn(
            f"{p}: {len(unknown)} Sensor Logger recording(s) without Metadata.csv: platform unknown, "
            "axes kept as in the file (iOS and Android differ by a sign)",
            stacklevel=3,
        )
    return recs
