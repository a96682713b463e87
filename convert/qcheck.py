"""Numeric checks of a quantized model against its float original.

- :func:`self_check`: both models run in LiteRT on calibration samples; top-1 agreement and the
  largest output difference decide which quantization level is kept.
- :func:`validate`: the quantizer's own per-tensor comparison (SNR in dB, cosine similarity) on real
  samples, so ``convert.json`` shows where the error comes from, not only the output difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

VALIDATION_WORST = 5  # lowest-SNR intermediate tensors reported


def _feeds(samples: list[np.ndarray], input_name: str) -> dict[str, list[dict[str, np.ndarray]]]:
    return {"serving_default": [{input_name: np.ascontiguousarray(s, np.float32)} for s in samples]}


def self_check(float_model: bytes, quant_model: bytes, samples: list[np.ndarray], input_name: str) -> dict[str, Any]:
    """Run both models (LiteRT) on ``samples``: top-1 agreement and max abs output difference."""
    from edgelite.runtime.core.model import load_interpreter

    rf = load_interpreter(float_model, num_threads=1).get_signature_runner("serving_default")
    rq = load_interpreter(quant_model, num_threads=1).get_signature_runner("serving_default")
    agree, diff, n = 0, 0.0, 0
    for s in samples:
        a = next(iter(rf(**{input_name: s}).values())).reshape(-1)
        try:
            b = next(iter(rq(**{input_name: s}).values())).reshape(-1)
        except Exception as e:  # an integer kernel that fails at run time: this level is unusable
            return {"n": n, "top1_agreement": 0.0, "max_abs_diff": None, "error": str(e).strip()[:200]}
        if not np.isfinite(b).all():
            return {"n": n, "top1_agreement": 0.0, "max_abs_diff": None, "error": "non-finite output"}
        agree += int(np.argmax(a) == np.argmax(b))
        diff = max(diff, float(np.abs(a - b).max()))
        n += 1
    return {"n": n, "top1_agreement": agree / max(n, 1), "max_abs_diff": diff}


def validate(qt: Any, samples: list[np.ndarray], input_name: str) -> dict[str, Any]:
    """The quantizer's per-tensor comparison (SNR in dB, cosine similarity) on real ``samples``:
    output tensors in full, plus the :data:`VALIDATION_WORST` intermediate tensors with the lowest SNR."""
    from litert_quantizer.quantizer import ValidationErrorMetric as M

    res = qt.validate(_feeds(samples, input_name), [M.SNR, M.COSINE_SIMILARITY], num_threads=1)
    sig = res.get_signature_comparison_result("serving_default")

    def clean(d: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        # SNR comes as a power ratio (mean(signal²)/mse): reported in dB
        return {k: {"snr_db": round(float(10 * np.log10(max(float(v.get("snr", np.nan)), 1e-30))), 2),
                    "cosine_similarity": round(float(v.get("cosine_similarity", np.nan)), 6)} for k, v in d.items()}

    inter = clean(sig.intermediate_tensors)
    finite = {k: v for k, v in inter.items() if np.isfinite(v["snr_db"]) and v["snr_db"] > -250}  # -300: all-zero
    worst = sorted(finite.items(), key=lambda kv: kv[1]["snr_db"])[:VALIDATION_WORST]
    return {"samples": len(samples), "metrics": ["snr_db", "cosine_similarity"],
            "outputs": clean(sig.output_tensors), "worst_intermediate": dict(worst),
            "intermediate_tensors": len(inter)}
