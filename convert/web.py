"""Fixed-length web variant of a model (LiteRT.js rejects dynamic dims), converted from the run's SavedModel.

LiteRT.js (``@litertjs/core``) refuses an input with a ``-1`` dimension (``TensorBuffer Float32[1,3]
does not match expected Float32[-1,3]``). The web variant is the same ``serving_default`` graph traced
with a fixed input shape:

- accel: ``[window_samples, 3]`` (what the page's sliding windows hold);
- signs: ``[T_fixed, 543, 3]``; the page writes the segment's frames first and NaN after them; the
  in-graph preprocessing drops hand-less frames (``drop_handless``), so the outputs equal the dynamic
  model's on the segment alone.

Needs TensorFlow (the ``train`` extra); the result is a float32 ``.tflite`` with the same metadata plus
``input.web_shape``. :func:`fixed_shape_for` picks the shape from the metadata.
"""

from __future__ import annotations

import os
from typing import Any

from edgelite.runtime.core.errors import EdgeliteError, ModelError
from edgelite.runtime.web.deps import RUNTIME_FILES, VISION_FILES, default_node_modules  # noqa: F401

DEFAULT_SIGN_FRAMES = 192  # = SegmenterOptions.max_frames: every segment the recognizer closes fits


def fixed_shape_for(meta: dict[str, Any], sign_frames: int = DEFAULT_SIGN_FRAMES) -> list[int]:
    """The web input shape for a model's metadata: accel ``[window_samples, 3]``, signs ``[sign_frames, 543, 3]``."""
    task = meta.get("task")
    inp = meta.get("input") or {}
    if task == "accel":
        n = inp.get("window_samples")
        if n is None and isinstance(inp.get("window_s"), (int, float)) and isinstance(inp.get("sample_rate_hz"), (int, float)):
            n = int(round(inp["window_s"] * inp["sample_rate_hz"]))
        if not isinstance(n, int) or isinstance(n, bool) or n < 2:
            raise ModelError(f"accel metadata input.window_samples must be an integer ≥ 2, got {n!r}")
        return [n, 3]
    if task == "signs":
        if int(sign_frames) < 1:
            raise ModelError(f"sign frames for the web variant must be ≥ 1, got {sign_frames}")
        return [int(sign_frames), 543, 3]
    raise ModelError(f"metadata task {task!r}: the web target supports 'accel' and 'signs' models")


def find_saved_model(model_path: str, run_dir: str | None = None) -> str:
    """The SavedModel that made ``model_path``: ``run_dir/saved_model`` if given, else beside the model or
    one or two folders up (``RUN/model.tflite``, ``RUN/convert/model_fp16.tflite``)."""
    cands = []
    if run_dir:
        cands += [os.path.join(run_dir, "saved_model"), run_dir]
    d = os.path.dirname(os.path.abspath(model_path))
    for _ in range(3):
        cands.append(os.path.join(d, "saved_model"))
        d = os.path.dirname(d)
    for c in cands:
        if os.path.isfile(os.path.join(c, "saved_model.pb")):
            return c
    where = run_dir or os.path.dirname(os.path.abspath(model_path))
    raise ModelError(
        f"{model_path}: no saved_model/ found near it (looked in {where} and its parents); the web variant is "
        "re-traced from the run's SavedModel with a fixed input length: give the run folder"
    )


def _tf():
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf
    except ImportError:
        raise EdgeliteError(
            "the web export needs TensorFlow to make the fixed-length web variant (LiteRT.js rejects dynamic "
            "input lengths): install edgelite[train]"
        ) from None
    return tf


def convert_fixed(saved_model_dir: str, shape: list[int], meta: dict[str, Any], out_path: str) -> bytes:
    """Trace ``serving_default`` of ``saved_model_dir`` with a fixed input ``shape`` → float32 ``.tflite``
    (builtin ops only) with ``meta`` embedded (plus ``input.web_shape``); written atomically."""
    tf = _tf()
    from edgelite.convert.export import SIGNATURE, convert_to_tflite, embed_metadata, write_atomic

    loaded = tf.saved_model.load(saved_model_dir)
    if SIGNATURE not in loaded.signatures:
        raise ModelError(f"{saved_model_dir}: no {SIGNATURE!r} signature")
    sig = loaded.signatures[SIGNATURE]
    (in_name, spec), = sig.structured_input_signature[1].items()
    out_names = list(sig.structured_outputs)
    if len(out_names) != 1:
        raise ModelError(f"{saved_model_dir}: expected one output, got {out_names}")

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name=in_name)])
    def fixed(x):
        return {out_names[0]: sig(**{in_name: x})[out_names[0]]}

    conv = tf.lite.TFLiteConverter.from_concrete_functions([fixed.get_concrete_function()], loaded)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    conv.allow_custom_ops = False
    data = convert_to_tflite(conv, source=out_path)
    meta = dict(meta)
    meta["input"] = {**meta["input"], "web_shape": list(shape)}
    data = embed_metadata(data, meta, source=out_path)
    write_atomic(out_path, data)
    return data


def make_web_variant(model_path: str, out_path: str, run_dir: str | None = None,
                     sign_frames: int = DEFAULT_SIGN_FRAMES) -> dict[str, Any]:
    """Write the fixed-length web variant of ``model_path`` to ``out_path``; return its metadata."""
    from edgelite.runtime.core.metadata import load_model_metadata

    meta = load_model_metadata(model_path)
    shape = fixed_shape_for(meta, sign_frames)
    sm = find_saved_model(model_path, run_dir)
    convert_fixed(sm, shape, meta, out_path)
    return load_model_metadata_from(out_path)


def load_model_metadata_from(path: str) -> dict[str, Any]:
    from edgelite.runtime.core.modelfile import read_metadata

    meta = read_metadata(path)
    if meta is None:
        raise ModelError(f"{path}: web variant lost its metadata")
    return meta


# ---------------------------------------------------------------- static site assembly

SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web", "site")
PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")



def _pinned_versions() -> dict[str, str]:
    import json

    with open(os.path.join(PACKAGE_DIR, "package-lock.json"), encoding="utf-8") as f:
        lock = json.load(f)
    return {k.split("node_modules/", 1)[1]: v["version"] for k, v in lock.get("packages", {}).items()
            if k.startswith("node_modules/")}


def check_node_modules(node_modules: str, files: list[tuple[str, str, str]]) -> None:
    """Every runtime file present and each package at the lockfile's version; one-line error otherwise."""
    import json

    pins = _pinned_versions()
    hint = "run `make web-deps` (npm ci from convert/web/package-lock.json)"
    for pkg in sorted({p for p, _, _ in files}):
        pj = os.path.join(node_modules, pkg, "package.json")
        if not os.path.isfile(pj):
            raise EdgeliteError(f"{node_modules}: npm package {pkg} is missing: {hint}")
        with open(pj, encoding="utf-8") as f:
            ver = json.load(f).get("version")
        if pkg in pins and ver != pins[pkg]:
            raise EdgeliteError(f"{pj}: {pkg} is {ver}, the lockfile pins {pins[pkg]}: {hint}")
    for pkg, rel, _ in files:
        if not os.path.isfile(os.path.join(node_modules, pkg, rel)):
            raise EdgeliteError(f"{node_modules}: {pkg}/{rel} is missing: {hint}")


def _stream_config(meta: dict[str, Any]) -> dict[str, Any]:
    """The accel page's stream options, computed by the Python runtime's own rules (stride = half a window)."""
    from edgelite.runtime.accel.stream import options_from_metadata

    o = options_from_metadata(meta)
    return {"rate_hz": o.rate_hz, "window_samples": o.window_samples, "stride": o.stride,
            "reset_gap_s": o.reset_gap_s, "units": o.units, "gravity": o.gravity}


def _needs_pose(meta: dict[str, Any]) -> bool:
    from edgelite.runtime.vision.frames import required_parts

    return "pose" in required_parts((meta.get("input") or {}).get("landmark_set"))


def _copy(src: str, dst: str) -> None:
    import shutil

    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)


def site_config(meta: dict[str, Any], shape: list[int], hand_model: str | None, pose_model: str | None) -> dict[str, Any]:
    """``model/config.json``: what the pages read (task, labels, model URL, fixed input shape, stream options)."""
    cfg: dict[str, Any] = {"task": meta["task"], "labels": meta["labels"], "model": "model/model.tflite",
                           "input_shape": list(shape), "metadata": meta}
    if meta["task"] == "accel":
        cfg["stream"] = _stream_config(meta)
    else:
        from dataclasses import asdict

        from edgelite.runtime.signs.recognize import RecognizerOptions

        ro = asdict(RecognizerOptions())
        cfg["segmenter"] = ro.pop("segmenter")
        cfg["recognizer"] = ro
        cfg["landmark_set"] = (meta.get("input") or {}).get("landmark_set", "hands")
        cfg["hand_model"] = hand_model
        cfg["pose_model"] = pose_model
    return cfg


def _tracker_models(meta: dict[str, Any], hand_task: str | None, pose_task: str | None) -> tuple[str, str | None]:
    """The hand (and, when the landmark set needs it, pose) ``.task`` files: given paths or ``<shared>/models``."""
    from edgelite.runtime.core.paths import shared_dir

    def find(given: str | None, name: str) -> str:
        if given:
            if not os.path.isfile(given):
                raise EdgeliteError(f"{given}: {name} not found")
            return given
        sh = shared_dir(required=False)
        p = os.path.join(os.fspath(sh), "models", name) if sh else None
        if not p or not os.path.isfile(p):
            raise EdgeliteError(f"{name} not found in the shared models folder: give its path (MediaPipe's {name})")
        return p

    hand = find(hand_task, "hand_landmarker.task")
    pose = find(pose_task, "pose_landmarker_full.task") if _needs_pose(meta) else None
    return hand, pose


def export_web_site(model_path: str, out_dir: str, run_dir: str | None = None, node_modules: str | None = None,
                    hand_task: str | None = None, pose_task: str | None = None,
                    sign_frames: int = DEFAULT_SIGN_FRAMES, spotter: str | None = None) -> list[str]:
    """Write a static site that runs ``model_path`` in a browser with LiteRT.js; return the files written.

    Layout: ``index.html accel.html sensor.html signs.html style.css js/`` (pages), ``model/model.tflite``
    (fixed-length web variant), ``model/metadata.json``, ``model/config.json``, ``runtime/`` (LiteRT.js and,
    for sign models, MediaPipe tasks-vision, copied from ``node_modules``), ``models/*.task`` (sign models),
    ``model/spotter.tflite`` (continuous signing, when the run has a spotter: ``spotter`` or ``spotter.tflite``
    beside the model / in ``run_dir``; its fixed ``[window,543,3]`` web variant, see :func:`write_web_spotter`).
    """
    import json

    from edgelite.runtime.core.metadata import load_model_metadata, write_sidecar

    if not os.path.isfile(model_path):
        raise EdgeliteError(f"{model_path}: model file not found")
    meta = load_model_metadata(model_path)
    shape = fixed_shape_for(meta, sign_frames)
    nm = node_modules or default_node_modules()
    files = RUNTIME_FILES + (VISION_FILES if meta["task"] == "signs" else [])
    check_node_modules(nm, files)
    trackers = _tracker_models(meta, hand_task, pose_task) if meta["task"] == "signs" else (None, None)
    sm = find_saved_model(model_path, run_dir)
    os.makedirs(os.path.join(out_dir, "model"), exist_ok=True)
    convert_fixed(sm, shape, meta, os.path.join(out_dir, "model", "model.tflite"))  # atomic write
    web_meta = load_model_metadata_from(os.path.join(out_dir, "model", "model.tflite"))
    write_sidecar(web_meta, os.path.join(out_dir, "model", "metadata.json"))
    for root, _, names in os.walk(SITE_DIR):
        for n in names:
            src = os.path.join(root, n)
            rel = os.path.relpath(src, SITE_DIR)
            if meta["task"] == "accel" and rel == "signs.html" or meta["task"] == "signs" and rel in ("accel.html", "sensor.html"):
                continue
            _copy(src, os.path.join(out_dir, rel))
    for pkg, rel, dst in files:
        _copy(os.path.join(nm, pkg, rel), os.path.join(out_dir, dst))
    hand, pose = trackers
    cfg = site_config(web_meta, shape, "models/hand_landmarker.task" if hand else None,
                      "models/pose_landmarker_full.task" if pose else None)
    for src, name in ((hand, "hand_landmarker.task"), (pose, "pose_landmarker_full.task")):
        if src:
            _copy(src, os.path.join(out_dir, "models", name))
    if meta["task"] == "signs":
        sp = find_spotter(model_path, run_dir, spotter)
        if sp:
            cfg["spotter"] = write_web_spotter(sp, os.path.join(out_dir, "model", "spotter.tflite"))
    with open(os.path.join(out_dir, "model", "config.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=1)
    os.replace(os.path.join(out_dir, "model", "config.json.tmp"), os.path.join(out_dir, "model", "config.json"))
    out = []
    for root, _, names in os.walk(out_dir):
        out += [os.path.relpath(os.path.join(root, n), out_dir) for n in names]
    return sorted(out)


def find_spotter(model_path: str, run_dir: str | None = None, spotter: str | None = None) -> str | None:
    """The continuous-signing model for a sign site: ``spotter`` if given, else ``spotter.tflite`` beside the model
    or in ``run_dir``; None when the run has none."""
    from edgelite.runtime.signs.spotting import SPOTTER_FILE

    if spotter:
        if not os.path.isfile(spotter):
            raise EdgeliteError(f"{spotter}: spotter model not found")
        return spotter
    for d in (os.path.dirname(os.path.abspath(model_path)), run_dir):
        if d and os.path.isfile(os.path.join(d, SPOTTER_FILE)):
            return os.path.join(d, SPOTTER_FILE)
    return None


def write_web_spotter(spotter_path: str, out_path: str) -> dict[str, Any]:
    """Write the spotter's fixed-length web variant (input ``[window,543,3]``, the window the runtime feeds it)
    atomically; return its ``config.json`` entry: model URL, shape, labels, ``spotting`` and the decoder's
    options (the Python :class:`SpotterOptions` defaults, with ``min_mean`` = the model's out-of-vocabulary
    reject threshold when it has one)."""
    from dataclasses import asdict

    from edgelite.convert.export import write_atomic
    from edgelite.runtime.core.modelfile import read_model_info
    from edgelite.runtime.signs.spotting import _spotting_meta, reject_options

    with open(spotter_path, "rb") as f:
        buf = f.read()
    meta = read_model_info(spotter_path, buf).metadata or {}
    sp = _spotting_meta(meta, spotter_path)
    window = int(sp["window"])
    write_atomic(out_path, fix_input_length(buf, window, spotter_path))
    opts = {k: v for k, v in asdict(reject_options(sp, None, spotter_path)).items() if k != "reject"}
    return {"model": "model/" + os.path.basename(out_path), "input_shape": [window, 543, 3],
            "labels": list(meta.get("labels", [])), "spotting": sp, "options": opts}


def site_size_mb(out_dir: str) -> float:
    """Total size of the files under ``out_dir`` in MB (10^6 bytes)."""
    total = 0
    for root, _, names in os.walk(out_dir):
        total += sum(os.path.getsize(os.path.join(root, n)) for n in names)
    return total / 1e6


# ---------------------------------------------------------------- fixed input length without TensorFlow

def fix_input_length(buf: bytes, length: int, source: str = "model") -> bytes:
    """A copy of a ``.tflite`` whose inputs' dynamic first dimension (``-1``/``1`` in ``shape_signature``/``shape``)
    is ``length``: what the interpreter's resize does at run time, written into the file (LiteRT.js rejects
    dynamic dims). Patches the int32 dims in place (same vector lengths); every op recomputes its output shapes
    when the tensors are allocated, so outputs equal the dynamic model resized to ``length``. No TensorFlow."""
    from edgelite.runtime.core.modelfile import _Reader

    if int(length) < 1:
        raise ModelError(f"{source}: fixed input length must be ≥ 1, got {length}")
    out = bytearray(buf)
    r = _Reader(bytes(buf), source)
    model = r.table(r.u32(0))
    n = 0
    for sg in model.tables(2):
        tensors = sg.tables(0)
        for i in sg.scalars(1, "i"):
            t = tensors[i]
            for field in (0, 7):  # shape, shape_signature
                start, k = t.vector_len(field)
                if k == 0:
                    continue
                first = r.i32(start)
                if first not in (-1, 1, int(length)):
                    raise ModelError(f"{source}: input {t.string(3)!r} has a fixed first dimension {first}; "
                                     f"cannot make it {length}")
                out[start:start + 4] = int(length).to_bytes(4, "little", signed=True)
                if field == 7:
                    for j in range(1, k):
                        if r.i32(start + 4 * j) < 0:
                            raise ModelError(f"{source}: input {t.string(3)!r} has another dynamic dimension ({j})")
            n += 1
    if n == 0:
        raise ModelError(f"{source}: no input tensors found")
    return bytes(out)
