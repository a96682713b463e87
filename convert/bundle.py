"""Deploy bundles (``edgelite export MODEL.tflite --target {pi,android,ios} --out DIR``).

A bundle folder holds the model, ``labels.txt``, ``metadata.json`` (the metadata embedded in the
model), a minimal runnable example for the target and a ``README.md`` on installing and running it:

- ``pi``: ``wheels/`` (edgelite built from this checkout, optionally aarch64 wheels of numpy and the
  runtime), ``install.sh`` and a 20-line ``run_model.py`` calling the runtime API: the Pi runs the same
  ``edgelite predict`` / ``edgelite run`` code as the host (see :mod:`edgelite.convert.deploy.pibundle`);
- ``android``: ``ModelRunner.kt`` calling ``Interpreter.runSignature`` with the exact input/output names;
- ``ios``: ``ModelRunner.swift`` using ``SignatureRunner`` with the exact input/output names.

Templates live in ``convert/templates/`` (``string.Template`` syntax, ``$name``). No TensorFlow needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from importlib import resources
from string import Template
from typing import Any

from edgelite.runtime.core.errors import DataError, ModelError

TARGETS = {
    "pi": [("pi_run_model.py", "run_model.py"), ("pi_install.sh", "install.sh"), ("pi_README.md", "README.md")],
    "android": [("android_ModelRunner.kt", "ModelRunner.kt"), ("android_README.md", "README.md")],
    "ios": [("ios_ModelRunner.swift", "ModelRunner.swift"), ("ios_README.md", "README.md")],
}


def _template(name: str) -> Template:
    return Template(resources.files("edgelite.convert").joinpath("templates", name).read_text(encoding="utf-8"))


def _atomic_write(path: str, data: bytes | str) -> None:
    tmp = path + ".tmp"
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as f:
        f.write(data)
    os.replace(tmp, path)


def template_values(model_file: str, meta: dict[str, Any], sig_inputs: dict[str, Any], sig_outputs: dict[str, Any],
                    bundle_name: str) -> dict[str, str]:
    """Placeholders for the templates, taken from the model's signature and metadata."""
    if len(sig_inputs) != 1 or len(sig_outputs) != 1:
        raise ModelError(f"{model_file}: export bundles support one input and one output, "
                         f"got inputs {list(sig_inputs)} and outputs {list(sig_outputs)}")
    (in_name, tin), = sig_inputs.items()
    (out_name, tout), = sig_outputs.items()
    shape = [int(s) for s in (tin.shape_signature or tin.shape)]
    feat = shape[1:]
    width = 1
    for f in feat:
        width *= max(1, f)
    inp = meta.get("input", {})
    demo = int(inp.get("window_samples") or 32)
    labels = meta.get("labels", [])
    rank = len(shape)
    if rank == 1:
        kt_type, kt_doc, kt_demo = "FloatArray", "T values", f"FloatArray({demo})"
    elif rank == 2:
        kt_type, kt_doc = "Array<FloatArray>", f"T rows of {feat[0]} floats"
        kt_demo = f"Array({demo}) {{ FloatArray({feat[0]}) }}"
    elif rank == 3:
        kt_type, kt_doc = "Array<Array<FloatArray>>", f"T frames of {feat[0]} × {feat[1]} floats"
        kt_demo = f"Array({demo}) {{ Array({feat[0]}) {{ FloatArray({feat[1]}) }} }}"
    else:
        raise ModelError(f"{model_file}: input rank {rank} is not supported by the bundle templates")
    notes = []
    for k in ("units", "sample_rate_hz", "window_samples", "layout", "landmark_set"):
        if k in inp:
            notes.append(f"{k} {inp[k]}")
    q = (meta.get("quantization") or {})
    quant_note = (f"Variant `{q['variant']}` (weights {q.get('weights')}, activations {q.get('activations')}); "
                  "input and output stay float32.") if q.get("variant") else "Float32 model."
    stem = os.path.splitext(model_file)[0]
    return {
        "compat_note": "",
        "model_file": model_file,
        "model_stem": stem,
        "bundle_name": bundle_name,
        "task": str(meta.get("task", "?")),
        "n_labels": str(len(labels)),
        "signature": "serving_default",
        "input_name": in_name,
        "input_dtype": tin.dtype.lower(),
        "input_shape": json.dumps(shape),
        "input_shape_py": repr(shape),
        "input_note": f" ({', '.join(notes)}; -1 = any length, NaN = missing)" if notes else " (-1 = any length, NaN = missing)",
        "output_name": out_name,
        "output_kind": str(meta.get("output", {}).get("kind", "probabilities")),
        "demo_length": str(demo),
        "width": str(width),
        "quant_note": quant_note,
        "package": "com.example.edgelite",
        "kotlin_input_type": kt_type,
        "kotlin_input_doc": kt_doc,
        "kotlin_demo_input": kt_demo,
        "swift_input_doc": f"length × {width} Float32 values ({' × '.join(['T'] + [str(f) for f in feat])})",
        "swift_shape": "[" + ", ".join(["length"] + [str(f) for f in feat]) + "]",
    }


def compat_note(model_path: str) -> str:
    """One line on the runtimes that loaded this file, from a ``convert.json`` beside it (else empty)."""
    rep = os.path.join(os.path.dirname(os.path.abspath(model_path)), "convert.json")
    try:
        with open(rep, encoding="utf-8") as f:
            variants = json.load(f).get("variants", {})
    except (OSError, ValueError):
        return ""
    for v in variants.values():
        if v.get("path") == os.path.basename(model_path) and v.get("runtimes"):
            ok = [r.get("version") or k for k, r in v["runtimes"].items() if r.get("ok")]
            bad = [k for k, r in v["runtimes"].items() if r.get("ok") is False]
            note = f"Checked by `edgelite convert`: loads and runs in {', '.join(ok) or 'no runtime'}."
            return note + (f" Does NOT load in: {', '.join(bad)}." if bad else "")
    return ""


def export_bundle(model_path: str | os.PathLike, target: str, out_dir: str | os.PathLike,
                  runtime: str = "litert", with_wheels: bool = False) -> list[str]:
    """Write the bundle for ``target`` into ``out_dir``; returns the written file paths.

    ``runtime`` (``litert`` or ``tflite-runtime``) and ``with_wheels`` apply to ``pi`` only: the model
    is refused when that runtime cannot load it, and ``with_wheels`` adds aarch64 wheels for an offline Pi.
    """
    from edgelite.runtime.core.metadata import validate
    from edgelite.runtime.core.modelfile import read_model_info

    model_path = os.fspath(model_path)
    if target not in TARGETS:
        raise DataError(f"--target {target!r}: expected one of {', '.join(TARGETS)}")
    info = read_model_info(model_path)  # clear ModelError for non-TFLite / truncated files
    if info.custom_ops:
        raise ModelError(f"{model_path}: uses custom/Flex ops {info.custom_ops}; cannot run with the plain runtime")
    if info.metadata is None:
        raise ModelError(f"{model_path}: no edgelite metadata embedded (convert it with edgelite first)")
    meta = validate(info.metadata, model_path)
    sig = info.signatures.get("serving_default")
    if sig is None:
        raise ModelError(f"{model_path}: has no 'serving_default' signature")
    out_dir = os.fspath(out_dir)
    if os.path.isfile(out_dir):
        raise DataError(f"--out {out_dir}: is a file, expected a folder")
    os.makedirs(out_dir, exist_ok=True)
    model_file = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(model_path))
    vals = template_values(model_file, meta, sig.inputs, sig.outputs, os.path.basename(os.path.abspath(out_dir)))
    vals["compat_note"] = compat_note(model_path)
    written = []
    if target == "pi":
        from edgelite.convert.deploy.pibundle import add_pi_wheels, pi_values

        vals.update(pi_values(meta, runtime))
        wheels, how = add_pi_wheels(out_dir, model_path, info.op_versions, meta, runtime, with_wheels)
        vals["loadable_note"] = f"Loads in `{runtime}` (checked at export: {how})."
        written += wheels
    dst = os.path.join(out_dir, model_file)
    if os.path.abspath(dst) != os.path.abspath(model_path):
        tmp = dst + ".tmp"
        shutil.copyfile(model_path, tmp)
        os.replace(tmp, dst)
    written.append(dst)
    p = os.path.join(out_dir, "labels.txt")
    _atomic_write(p, "".join(f"{lab}\n" for lab in meta["labels"]))
    written.append(p)
    p = os.path.join(out_dir, "metadata.json")
    _atomic_write(p, json.dumps(meta, indent=2) + "\n")
    written.append(p)
    for tmpl, name in TARGETS[target]:
        p = os.path.join(out_dir, name)
        _atomic_write(p, _template(tmpl).substitute(vals))
        if name.endswith((".py", ".sh")):
            os.chmod(p, 0o755)
        written.append(p)
    return written
