"""Read a ``.tflite`` flatbuffer without TensorFlow: signatures, operators, tensors and edgelite metadata.

A tiny, dependency-free FlatBuffers reader for the parts of the TFLite schema
(``tensorflow/lite/schema/schema.fbs``) that edgelite needs. It lets the runtime read the
metadata embedded by :mod:`edgelite.convert` on a phone or a Pi, and lets ``edgelite inspect``
report op histograms and quantization with no TensorFlow installed.

Metadata convention: the model's ``metadata`` vector holds an entry named ``"edgelite"`` whose
buffer is UTF-8 JSON (see :mod:`edgelite.runtime.core.metadata`).
"""

from __future__ import annotations

import json
import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from edgelite.runtime.core._schema_names import BUILTIN_OPS, TENSOR_TYPES
from edgelite.runtime.core.errors import ModelError

METADATA_NAME = "edgelite"
_FILE_ID = b"TFL3"
_MAX_BYTES = 2**31 - 1  # flatbuffers are limited to 2 GiB


class _Reader:
    """Bounds-checked access to flatbuffer tables, vectors and strings."""

    def __init__(self, buf: bytes, source: str):
        self.buf = buf
        self.source = source
        # work budget in bytes decoded: a well-formed file decodes each byte about once; crafted files
        # whose tables alias the same large vectors many times would otherwise take quadratic time/memory
        self.budget = 4 * len(buf) + (1 << 16)

    def spend(self, n: int) -> None:
        """Charge ``n`` bytes of decoding work; ModelError once the file's budget is used up."""
        self.budget -= n
        if self.budget < 0:
            raise self._fail(
                "tables reference the same data far more often than the file size allows (crafted or corrupt file)"
            )

    def _fail(self, what: str) -> ModelError:
        return ModelError(f"{self.source}: not a valid TFLite flatbuffer ({what})")

    def u8(self, pos: int) -> int:
        return self._unpack("<B", pos)

    def u16(self, pos: int) -> int:
        return self._unpack("<H", pos)

    def i32(self, pos: int) -> int:
        return self._unpack("<i", pos)

    def u32(self, pos: int) -> int:
        return self._unpack("<I", pos)

    def _unpack(self, fmt: str, pos: int) -> Any:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.buf):
            raise self._fail(f"offset {pos} out of range, file is {len(self.buf)} bytes (truncated?)")
        return struct.unpack_from(fmt, self.buf, pos)[0]

    def table(self, pos: int) -> "_Table":
        self.spend(8)
        vt = pos - self.i32(pos)
        vt_size = self.u16(vt)
        if vt_size < 4 or vt + vt_size > len(self.buf):
            raise self._fail(f"bad vtable at {vt}")
        return _Table(self, pos, vt, vt_size)


@dataclass
class _Table:
    r: _Reader
    pos: int
    vt: int
    vt_size: int

    def _field(self, i: int) -> int | None:
        off_pos = 4 + 2 * i
        if off_pos >= self.vt_size:
            return None
        off = self.r.u16(self.vt + off_pos)
        return None if off == 0 else self.pos + off

    def scalar(self, i: int, fmt: str, default: Any = 0) -> Any:
        p = self._field(i)
        return default if p is None else self.r._unpack(fmt, p)

    def _indirect(self, i: int) -> int | None:
        p = self._field(i)
        return None if p is None else p + self.r.u32(p)

    def string(self, i: int) -> str | None:
        p = self._indirect(i)
        if p is None:
            return None
        n = self.r.u32(p)
        if p + 4 + n > len(self.r.buf):
            raise self.r._fail("string runs past end of file (truncated?)")
        self.r.spend(n + 4)
        return self.r.buf[p + 4 : p + 4 + n].decode("utf-8", "replace")

    def vector_len(self, i: int) -> tuple[int, int]:
        p = self._indirect(i)
        if p is None:
            return 0, 0
        n = self.r.u32(p)
        return p + 4, n

    def scalars(self, i: int, fmt: str) -> list[Any]:
        start, n = self.vector_len(i)
        size = struct.calcsize(fmt)
        if n and start + n * size > len(self.r.buf):
            raise self.r._fail("vector runs past end of file (truncated?)")
        self.r.spend(n * size + 4)
        return [struct.unpack_from("<" + fmt, self.r.buf, start + k * size)[0] for k in range(n)]

    def bytes_(self, i: int) -> bytes:
        start, n = self.vector_len(i)
        if start + n > len(self.r.buf):
            raise self.r._fail("buffer runs past end of file (truncated?)")
        self.r.spend(n + 4)
        return self.r.buf[start : start + n]

    def tables(self, i: int) -> list["_Table"]:
        start, n = self.vector_len(i)
        if n and start + 4 * n > len(self.r.buf):
            raise self.r._fail("table vector runs past end of file (truncated?)")
        self.r.spend(4 * n + 4)
        out = []
        for k in range(n):
            p = start + 4 * k
            out.append(self.r.table(p + self.r.u32(p)))
        return out


@dataclass
class TensorInfo:
    """One tensor of a subgraph. ``shape_signature`` uses -1 for dynamic dimensions."""

    index: int
    name: str
    dtype: str
    shape: list[int]
    shape_signature: list[int]
    quantized: bool
    scale: list[float] = field(default_factory=list)
    zero_point: list[int] = field(default_factory=list)


@dataclass
class SignatureInfo:
    key: str
    subgraph: int
    inputs: dict[str, TensorInfo]
    outputs: dict[str, TensorInfo]


@dataclass
class ModelInfo:
    """What ``edgelite inspect`` shows: everything readable from the flatbuffer alone."""

    path: str
    size_bytes: int
    schema_version: int
    description: str
    signatures: dict[str, SignatureInfo]
    op_histogram: dict[str, int]
    op_versions: dict[str, list[int]]
    custom_ops: list[str]
    tensor_types: dict[str, int]
    metadata_names: list[str]
    metadata: dict[str, Any] | None

    @property
    def flex_ops(self) -> list[str]:
        return sorted(op for op in self.custom_ops if op.startswith("Flex"))

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "schema_version": self.schema_version,
            "description": self.description,
            "signatures": {
                k: {
                    "subgraph": s.subgraph,
                    "inputs": {n: _tensor_json(t) for n, t in s.inputs.items()},
                    "outputs": {n: _tensor_json(t) for n, t in s.outputs.items()},
                }
                for k, s in self.signatures.items()
            },
            "op_histogram": self.op_histogram,
            "op_versions": self.op_versions,
            "custom_ops": self.custom_ops,
            "flex_ops": self.flex_ops,
            "tensor_types": self.tensor_types,
            "metadata_names": self.metadata_names,
            "metadata": self.metadata,
        }


def _tensor_json(t: TensorInfo) -> dict[str, Any]:
    d: dict[str, Any] = {"tensor": t.name, "dtype": t.dtype, "shape": t.shape_signature or t.shape}
    if t.quantized:
        d["quantization"] = {"scale": t.scale[:4], "zero_point": t.zero_point[:4]}
    return d


def _read_bytes(path: str | os.PathLike) -> bytes:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelError(f"{path}: model file not found")
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a folder, expected a .tflite file")
    size = os.path.getsize(path)
    if size > _MAX_BYTES:
        raise ModelError(f"{path}: {size} bytes is larger than a TFLite flatbuffer can be (2 GiB)")
    from edgelite.runtime.core.limits import check

    check(path, "max_file_bytes", size, "model size (bytes)")
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise ModelError(f"{path}: cannot read the model file ({e.strerror or e})") from None
    check_tflite_bytes(buf, path)
    return buf


def check_tflite_bytes(buf: bytes, source: str) -> None:
    """Raise :class:`ModelError` unless ``buf`` starts like a TFLite flatbuffer."""
    if len(buf) < 16:
        raise ModelError(f"{source}: {len(buf)} bytes is too small to be a TFLite model (empty or truncated)")
    if buf[4:8] != _FILE_ID:
        hint = " (looks like a zip: a MediaPipe .task bundle?)" if buf[:2] == b"PK" else ""
        raise ModelError(f"{source}: not a TFLite model: file identifier is {buf[4:8]!r}, expected b'TFL3'{hint}")


def _tensor(t: _Table, index: int) -> TensorInfo:
    q = t._indirect(4)
    scale: list[float] = []
    zp: list[int] = []
    if q is not None:
        qt = t.r.table(q)
        scale = qt.scalars(2, "f")
        zp = qt.scalars(3, "q")
    return TensorInfo(
        index=index,
        name=t.string(3) or "",
        dtype=TENSOR_TYPES.get(t.scalar(1, "<b", 0), "UNKNOWN"),
        shape=t.scalars(0, "i"),
        shape_signature=t.scalars(7, "i"),
        quantized=bool(scale),
        scale=scale,
        zero_point=zp,
    )


def _read_opcodes(model: _Table) -> tuple[list[str], dict[str, set[int]], list[str]]:
    """``(op name per opcode index, versions per op name, custom op names)``."""
    op_names: list[str] = []
    op_versions: dict[str, set[int]] = {}
    custom: list[str] = []
    for oc in model.tables(1):
        code = max(oc.scalar(0, "<b", 0), oc.scalar(3, "<i", 0))
        name = BUILTIN_OPS.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            name = oc.string(1) or "CUSTOM"
            custom.append(name)
        op_names.append(name)
        op_versions.setdefault(name, set()).add(oc.scalar(2, "<i", 1))
    return op_names, op_versions, custom


def _read_subgraphs(model: _Table, op_names: list[str]) -> tuple[list[list[TensorInfo]], Counter, Counter]:
    """``(tensors per subgraph, op histogram, tensor dtype histogram)``."""
    hist: Counter[str] = Counter()
    ttypes: Counter[str] = Counter()
    sub_tensors: list[list[TensorInfo]] = []
    for sg in model.tables(2):
        tensors = [_tensor(t, i) for i, t in enumerate(sg.tables(0))]
        sub_tensors.append(tensors)
        ttypes.update(t.dtype for t in tensors)
        for op in sg.tables(3):
            idx = op.scalar(0, "<I", 0)
            hist[op_names[idx] if idx < len(op_names) else f"OPCODE_{idx}"] += 1
    return sub_tensors, hist, ttypes


def _read_metadata_entries(model: _Table, path: str) -> tuple[list[str], dict[str, Any] | None]:
    """``(names of all metadata entries, the parsed edgelite entry or None)``."""
    buffers = model.tables(4)
    names: list[str] = []
    meta: dict[str, Any] | None = None
    for m in model.tables(6):
        name = m.string(0) or ""
        names.append(name)
        if name == METADATA_NAME:
            bi = m.scalar(1, "<I", 0)
            if bi >= len(buffers):
                raise ModelError(f"{path}: edgelite metadata points at missing buffer {bi}")
            meta = _parse_metadata(buffers[bi].bytes_(0), path)
    return names, meta


def _read_signatures(model: _Table, sub_tensors: list[list[TensorInfo]]) -> dict[str, SignatureInfo]:
    """Signature key → its subgraph and named input/output tensors."""
    sigs: dict[str, SignatureInfo] = {}
    for sd in model.tables(7):
        key = sd.string(2) or ""
        sgi = sd.scalar(4, "<I", 0)
        tensors = sub_tensors[sgi] if sgi < len(sub_tensors) else []

        def tmap(i: int) -> dict[str, TensorInfo]:
            out = {}
            for tm in sd.tables(i):
                ti = tm.scalar(1, "<I", 0)
                if ti < len(tensors):
                    out[tm.string(0) or ""] = tensors[ti]
            return out

        sigs[key] = SignatureInfo(key=key, subgraph=sgi, inputs=tmap(0), outputs=tmap(1))
    return sigs


def read_model_info(path: str | os.PathLike, buf: bytes | None = None) -> ModelInfo:
    """Parse ``path`` (or ``buf``) and return signatures, ops, tensors and embedded metadata.

    Raises :class:`ModelError` naming the file for anything that is not a readable TFLite model.
    """
    path = os.fspath(path)
    if buf is None:
        buf = _read_bytes(path)
    else:
        check_tflite_bytes(buf, path)
    r = _Reader(buf, path)
    try:
        model = r.table(r.u32(0))
        op_names, op_versions, custom = _read_opcodes(model)
        sub_tensors, hist, ttypes = _read_subgraphs(model, op_names)
        metadata_names, meta = _read_metadata_entries(model, path)
        sigs = _read_signatures(model, sub_tensors)
    except ModelError:
        raise
    except (struct.error, IndexError, RecursionError) as e:  # pragma: no cover - defensive
        raise ModelError(f"{path}: not a valid TFLite flatbuffer ({e})") from None
    if meta is not None:
        _check_labels_vs_outputs(meta, sigs, path)
    return ModelInfo(
        path=path,
        size_bytes=len(buf),
        schema_version=model.scalar(0, "<I", 0),
        description=model.string(3) or "",
        signatures=sigs,
        op_histogram=dict(sorted(hist.items())),
        op_versions={k: sorted(v) for k, v in sorted(op_versions.items())},
        custom_ops=sorted(set(custom)),
        tensor_types=dict(sorted(ttypes.items())),
        metadata_names=metadata_names,
        metadata=meta,
    )


def _parse_metadata(raw: bytes, path: str) -> dict[str, Any]:
    """The edgelite metadata buffer → a validated dict (ModelError naming the field otherwise)."""
    from edgelite.runtime.core.metadata import validate

    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError, huge ints, deep nesting
        raise ModelError(f"{path}: edgelite metadata is not valid JSON ({type(e).__name__}: {str(e)[:120]})") from None
    return validate(meta, path)


def _check_labels_vs_outputs(meta: dict[str, Any], sigs: dict[str, "SignatureInfo"], path: str) -> None:
    """The serving signature's single output must not have more classes than the metadata has labels."""
    sig = sigs.get("serving_default")
    if sig is None or len(sig.outputs) != 1:
        return
    out = next(iter(sig.outputs.values()))
    shape = out.shape_signature or out.shape
    n = shape[-1] if shape else 0
    if n > 0 and len(meta["labels"]) < n:
        raise ModelError(
            f"{path}: metadata lists {len(meta['labels'])} label(s) but the output has {n} classes; "
            "expected one label per output"
        )


def read_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """The edgelite metadata dict embedded in ``path``, or ``None`` if the model has none."""
    return read_model_info(path).metadata
