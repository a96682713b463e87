"""Online classification of streamed accelerometer samples: resample → sliding windows → model → JSON lines.

Data flow (one :class:`StreamClassifier` serves many devices)::

    source (HTTP / WebSocket / UDP / replay)  →  Batch(device, t [n] s, xyz [n,3])
        → DeviceStream: choose the gravity kind the model wants, convert units,
          drop duplicates / late (out-of-order) / non-finite samples,
          resample linearly onto the model's uniform grid (device clock),
          a gap longer than one window resets the window
        → windows of ``window_samples`` every ``stride`` samples → EdgeModel → probabilities
        → optional smoothing (mean of the last K windows' probabilities)
        → :class:`~edgelite.runtime.core.results.ClassificationResult` with ``device`` and the
          window's span ``[t_start, t_end)`` in device seconds (``t_end`` = last sample + 1/rate),
          written as the common JSON shape ``{"input","label","score","top":[{"label","score"}],...}``

All buffers are bounded: a device keeps at most one window of resampled samples, the number of
devices is capped (least recently seen is dropped), sources hand batches over through bounded queues.

The grid of a stream segment starts at its first sample ``t0`` and holds ``t0 + k / rate_hz``; the
same windows come out of an offline ``np.interp`` of the whole recording onto that grid and
``x[i*stride : i*stride + window_samples]``, which is what the parity tests check.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TextIO

import numpy as np

from edgelite.runtime.core.errors import ModelError
from edgelite.runtime.core.results import ClassificationResult

log = logging.getLogger("edgelite.stream")

STANDARD_GRAVITY = 9.80665
UNIT_SCALE = {"m/s^2": 1.0, "m/s2": 1.0, "ms2": 1.0, "g": STANDARD_GRAVITY}


@dataclass
class Batch:
    """Samples of one device, in arrival order.

    ``t``: ``[n]`` float64 device time in seconds; ``xyz``: ``[n,3]`` float32 in ``units``;
    ``gravity``: True if the values include gravity (Android ``TYPE_ACCELEROMETER``, Sensor Logger
    "totalacceleration"), False if not (Sensor Logger "accelerometer", ``TYPE_LINEAR_ACCELERATION``),
    None if unknown (then taken as what the model wants). ``session`` changes reset the stream.
    """

    device: str
    t: np.ndarray
    xyz: np.ndarray
    gravity: bool | None = None
    session: str = ""
    units: str = "m/s^2"
    kind: str = "accelerometer"

    def __len__(self) -> int:
        return int(self.t.shape[0])


class Counters:
    """Thread-safe event counters; the first event of each kind is logged once, later ones only counted."""

    def __init__(self, name: str = "stream") -> None:
        self.name = name
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str, detail: str = "", n: int = 1, level: int = logging.WARNING) -> None:
        with self._lock:
            first = kind not in self.counts
            self.counts[kind] += n
        if first:
            log.log(level, "%s: %s%s (logged once; further ones are counted)", self.name, kind,
                    f": {detail}" if detail else "")

    def __getitem__(self, kind: str) -> int:
        with self._lock:
            return self.counts.get(kind, 0)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


@dataclass
class StreamOptions:
    """How windows are cut and reported.

    ``rate_hz``, ``window_samples``: the model's (from its metadata); ``stride``: samples between window
    starts (≥ 1); ``reset_gap_s``: a gap between samples longer than this restarts the window
    (default: one window); ``smooth``: report the mean probabilities of the last K windows;
    ``top_k``: entries in ``top``; ``gravity``: what the model expects (None = take any);
    ``max_devices``: devices kept at once; ``gravity_tau_s``: time constant of the low-pass gravity
    estimate used when a device only sends gravity-included samples to a gravity-free model.
    """

    rate_hz: float
    window_samples: int
    stride: int
    reset_gap_s: float | None = None
    smooth: int = 1
    top_k: int = 3
    gravity: bool | None = None
    units: str = "m/s^2"
    max_devices: int = 64
    gravity_tau_s: float = 0.5

    def __post_init__(self) -> None:
        if not (self.rate_hz > 0 and math.isfinite(self.rate_hz)):
            raise ModelError(f"sample rate must be a positive number of Hz, got {self.rate_hz!r}")
        if int(self.window_samples) < 2:
            raise ModelError(f"window_samples must be ≥ 2, got {self.window_samples!r}")
        if int(self.stride) < 1:
            raise ValueError(f"stride must be ≥ 1 sample, got {self.stride!r}")
        if self.smooth < 1:
            raise ValueError(f"smooth must be ≥ 1 window, got {self.smooth!r}")
        self.window_samples = int(self.window_samples)
        self.stride = int(self.stride)
        if self.reset_gap_s is None:
            self.reset_gap_s = self.window_samples / self.rate_hz


def options_from_metadata(meta: dict[str, Any], stride_s: float | None = None, **kw: Any) -> StreamOptions:
    """StreamOptions from an accel model's metadata ``input`` (``sample_rate_hz``, ``window_samples`` or
    ``window_s``, ``gravity``, ``units``); ``stride_s`` defaults to half a window."""
    inp = meta.get("input") or {}
    if meta.get("task") not in (None, "accel"):
        raise ModelError(f"model task is {meta.get('task')!r}; `run accel` needs an accel model")
    rate = inp.get("sample_rate_hz")
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
        raise ModelError(f"model metadata input.sample_rate_hz must be a positive number, got {rate!r}")
    n = inp.get("window_samples")
    if n is None and isinstance(inp.get("window_s"), (int, float)):
        n = int(round(inp["window_s"] * rate))
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ModelError(f"model metadata input.window_samples must be an integer ≥ 2, got {n!r}")
    if stride_s is not None and stride_s <= 0:
        raise ValueError(f"stride_s must be > 0 seconds, got {stride_s}")
    stride = max(1, int(round((stride_s if stride_s is not None else n / rate / 2) * rate)))
    units = str(inp.get("units", "m/s^2"))
    if units not in UNIT_SCALE:
        raise ModelError(f"model metadata input.units {units!r} is not one of {sorted(UNIT_SCALE)}")
    g = inp.get("gravity")
    return StreamOptions(rate_hz=float(rate), window_samples=n, stride=stride,
                         gravity=bool(g) if g is not None else None, units=units, **kw)


class Resampler:
    """Online linear interpolation of irregular samples onto ``t0 + k / rate_hz``.

    ``push(t, x)`` takes increasing ``t`` [n] (s) and ``x`` [n,3]; it returns a list of segments
    ``(reset, tg [m], xg [m,3])``; ``reset`` is True when the segment starts a new grid (first samples or
    after a gap > ``reset_gap_s``). Samples at or before the last accepted time must be removed by the
    caller (:class:`DeviceStream` does).
    """

    def __init__(self, rate_hz: float, reset_gap_s: float) -> None:
        self.rate = float(rate_hz)
        self.dt = 1.0 / self.rate
        self.reset_gap = float(reset_gap_s)
        self.t0: float | None = None
        self.k = 0
        self.t_last: float | None = None
        self.x_last: np.ndarray | None = None

    def reset(self) -> None:
        self.t0, self.k, self.t_last, self.x_last = None, 0, None, None

    def push(self, t: np.ndarray, x: np.ndarray) -> list[tuple[bool, np.ndarray, np.ndarray]]:
        out: list[tuple[bool, np.ndarray, np.ndarray]] = []
        if t.shape[0] == 0:
            return out
        # split at gaps > reset_gap (including the gap from the last accepted sample)
        cuts = (np.flatnonzero(np.diff(t) > self.reset_gap) + 1).tolist()
        first_reset = self.t_last is None or (t[0] - self.t_last > self.reset_gap)
        bounds = [0, *cuts, t.shape[0]]
        for i in range(len(bounds) - 1):
            a, b = bounds[i], bounds[i + 1]
            ts, xs = t[a:b], x[a:b]
            reset = first_reset if i == 0 else True
            if reset:
                self.t0, self.k = float(ts[0]), 0
            else:  # continue from the last accepted sample
                ts = np.concatenate(([self.t_last], ts))
                xs = np.concatenate((self.x_last[None], xs))
            # same grid arithmetic as resample.resample_uniform (offline): t0 + k * dt
            k_max = int(math.floor((ts[-1] - self.t0) / self.dt + 1e-9))
            if k_max >= self.k:
                ks = np.arange(self.k, k_max + 1, dtype=np.float64)
                tg = self.t0 + ks * self.dt
                xg = np.empty((ks.shape[0], 3), np.float32)
                for j in range(3):
                    xg[:, j] = np.interp(tg, ts, xs[:, j])
                self.k = k_max + 1
            else:
                tg, xg = np.empty(0), np.empty((0, 3), np.float32)
            self.t_last, self.x_last = float(ts[-1]), np.asarray(xs[-1], np.float32).copy()
            if reset or tg.shape[0]:
                out.append((reset, tg, xg))
        return out


class Windower:
    """Cuts a resampled stream into windows of ``n`` samples every ``stride`` samples (bounded: keeps ≤ n)."""

    def __init__(self, n: int, stride: int) -> None:
        self.n, self.stride = n, stride
        self.reset()

    def reset(self) -> None:
        self.tail = np.empty((0, 3), np.float32)
        self.tail_t = np.empty(0)
        self.total = 0  # samples since reset
        self.next_end = self.n

    def push(self, tg: np.ndarray, xg: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """Append samples; return ``[(t_end, window [n,3]), ...]`` completed by them."""
        if tg.shape[0] == 0:
            return []
        arr = np.concatenate((self.tail, xg))
        arr_t = np.concatenate((self.tail_t, tg))
        base = self.total - self.tail.shape[0]
        self.total += tg.shape[0]
        out = []
        while self.next_end <= self.total:
            e = self.next_end - base
            out.append((float(arr_t[e - 1]), arr[e - self.n:e]))
            self.next_end += self.stride
        keep = min(self.n, arr.shape[0])
        self.tail, self.tail_t = arr[-keep:].copy(), arr_t[-keep:].copy()
        return out


class GravityRemover:
    """Removes a low-pass gravity estimate from uniform samples (Android's documented high-pass approach)."""

    def __init__(self, rate_hz: float, tau_s: float) -> None:
        dt = 1.0 / rate_hz
        self.alpha = tau_s / (tau_s + dt)
        self.g: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        g = x[0].astype(np.float64) if self.g is None else self.g
        a = self.alpha
        for i in range(x.shape[0]):
            g = a * g + (1 - a) * x[i]
            out[i] = x[i] - g
        self.g = g
        return out


@dataclass
class DeviceStream:
    """Per-device state: gravity-kind choice, last accepted time, resampler, windower, smoothing."""

    device: str
    opts: StreamOptions
    counters: Counters
    session: str = ""
    mode: str | None = None  # None | "match" | "convert"
    last_seen: float = 0.0
    resampler: Resampler = field(init=False)
    windower: Windower = field(init=False)
    history: deque = field(init=False)
    converter: GravityRemover | None = None

    def __post_init__(self) -> None:
        self.resampler = Resampler(self.opts.rate_hz, self.opts.reset_gap_s)
        self.windower = Windower(self.opts.window_samples, self.opts.stride)
        self.history = deque(maxlen=self.opts.smooth)

    def reset(self) -> None:
        self.resampler.reset()
        self.windower.reset()
        self.history.clear()
        if self.converter is not None:
            self.converter.g = None

    def accept(self, b: Batch) -> list[tuple[float, np.ndarray]]:
        """Feed one batch; return the completed windows ``[(t_end, [n,3] float32 in the model's units)]``."""
        self._follow_session(b.session)
        if not self._choose_kind(b.gravity):
            return []
        t, x = self._clean(b)
        if t is None:
            return []
        t, x = self._drop_late(t, x)
        return self._windows(t, x, convert=self.mode == "convert" and bool(b.gravity))

    def _follow_session(self, session: str) -> None:
        """A new session id restarts the stream."""
        if session != self.session:
            if self.session:
                self.counters.add("session_change", f"device {self.device!r} started session {session!r}",
                                  level=logging.INFO)
            self.reset()
            self.session = session

    def _choose_kind(self, gravity: bool | None) -> bool:
        """Use batches of the gravity kind the model wants; convert the other kind only if that is all there is."""
        want = self.opts.gravity
        if gravity is None or want is None or gravity == want:
            if self.mode == "convert":
                self.counters.add("kind_switch", f"device {self.device!r} now sends the kind the model wants",
                                  level=logging.INFO)
                self.reset()
            self.mode = "match"
            return True
        if self.mode == "match":
            return False  # the device also sends the kind we want: ignore the other one
        if self.mode is None:
            msg = ("removing gravity with a low-pass filter" if gravity else
                   "using them as they are: predictions may be wrong (enable total acceleration on the phone)")
            self.counters.add("gravity_mismatch",
                              f"device {self.device!r} sends {'gravity-included' if gravity else 'gravity-free'} "
                              f"samples but the model wants gravity={want}; {msg}")
        self.mode = "convert"
        return True

    def _clean(self, b: Batch) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Model units; non-finite samples dropped; sorted by time without duplicates. ``(None, None)``: unusable."""
        t = np.asarray(b.t, np.float64).reshape(-1)
        x = np.asarray(b.xyz, np.float32).reshape(-1, 3)
        scale = UNIT_SCALE.get(b.units, None)
        if scale is None:
            self.counters.add("bad_units", f"unknown units {b.units!r}")
            return None, None
        scale /= UNIT_SCALE[self.opts.units]
        if scale != 1.0:
            x = x * np.float32(scale)
        ok = np.isfinite(t) & np.isfinite(x).all(axis=1)
        if not ok.all():
            self.counters.add("non_finite", f"device {self.device!r}: NaN/inf time or values", int((~ok).sum()))
            t, x = t[ok], x[ok]
        if t.shape[0] > 1 and not (np.diff(t) > 0).all():
            order = np.argsort(t, kind="stable")
            t, x = t[order], x[order]
            dup = np.diff(t, prepend=-np.inf) <= 0
            if dup.any():
                self.counters.add("duplicate", f"device {self.device!r}: repeated timestamps", int(dup.sum()),
                                  level=logging.INFO)
                t, x = t[~dup], x[~dup]
        return t, x

    def _drop_late(self, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drop samples at or before the last one; a batch far in the past means the clock restarted."""
        last = self.resampler.t_last
        if last is not None and t.shape[0] and t[-1] < last - self.opts.reset_gap_s:
            # the whole batch lies far before the last sample: the device clock restarted (reboot,
            # app restart, SensorServer's boot-time clock): start over instead of dropping forever
            self.counters.add("clock_jump", f"device {self.device!r}: time went back by {last - t[-1]:.3g} s; "
                              "window restarted", level=logging.INFO)
            self.reset()
            last = None
        if last is not None and t.shape[0] and t[0] <= last:
            late = t <= last
            self.counters.add("late", f"device {self.device!r}: samples at or before the last one", int(late.sum()),
                              level=logging.INFO)
            t, x = t[~late], x[~late]
        return t, x

    def _windows(self, t: np.ndarray, x: np.ndarray, convert: bool) -> list[tuple[float, np.ndarray]]:
        """Resample onto the model's grid (a gap restarts the window), remove gravity if ``convert``, cut windows."""
        windows: list[tuple[float, np.ndarray]] = []
        for reset, tg, xg in self.resampler.push(t, x):
            if reset:
                if self.windower.total:
                    self.counters.add("gap_reset", f"device {self.device!r}: gap > {self.opts.reset_gap_s:.3g} s, "
                                      "window restarted", level=logging.INFO)
                self.windower.reset()
                self.history.clear()
                if self.converter is not None:
                    self.converter.g = None
            if convert and xg.shape[0]:
                if self.converter is None:
                    self.converter = GravityRemover(self.opts.rate_hz, self.opts.gravity_tau_s)
                xg = self.converter(xg)
            windows.extend(self.windower.push(tg, xg))
        return windows


class StreamClassifier:
    """Runs an accel model on windows of many device streams.

    ``predict``: callable ``[n,3] float32 → [C] probabilities`` (e.g. ``EdgeModel.predict``), or
    ``→ (probabilities, ood_score | None)`` (``EdgeModel.predict_scored``: the in-graph open-set score);
    ``emit``: receives each :class:`ClassificationResult`; ``input_name``: the results' ``input``
    (e.g. the source as the user named it; default: the device name). Not thread-safe: feed it
    from one thread.
    """

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], labels: list[str], opts: StreamOptions,
                 emit: Callable[[ClassificationResult], None] | None = None, counters: Counters | None = None,
                 input_name: str | None = None) -> None:
        self.predict = predict
        self.input_name = input_name
        self.labels = list(labels)
        self.opts = opts
        self.emit = emit or (lambda r: None)
        self.counters = counters or Counters("stream")
        self.devices: OrderedDict[str, DeviceStream] = OrderedDict()
        self.samples_in = 0
        self.windows_out = 0

    @classmethod
    def for_model(cls, model: Any, stride_s: float | None = None, emit: Callable | None = None,
                  counters: Counters | None = None, input_name: str | None = None, **kw: Any) -> "StreamClassifier":
        """From an :class:`edgelite.runtime.core.model.EdgeModel` (or anything with ``predict``,
        ``labels`` and ``metadata``, such as :class:`~edgelite.runtime.accel.classifier.AccelClassifier`)."""
        opts = options_from_metadata(model.metadata, stride_s=stride_s, **kw)
        em = getattr(model, "model", model)  # AccelClassifier → its EdgeModel
        predict = em.predict_scored if getattr(em, "has_ood_score", False) else em.predict
        sc = cls(predict, model.labels, opts, emit=emit, counters=counters, input_name=input_name)
        sc.metadata = dict(model.metadata)  # the open-set decision ("unknown") travels in it
        return sc

    def _device(self, name: str) -> DeviceStream:
        d = self.devices.get(name)
        if d is None:
            if len(self.devices) >= self.opts.max_devices:
                old, _ = self.devices.popitem(last=False)
                self.counters.add("device_evicted", f"more than {self.opts.max_devices} devices; dropped {old!r}")
            d = DeviceStream(name, self.opts, self.counters)
            self.devices[name] = d
        else:
            self.devices.move_to_end(name)
        return d

    def push(self, batch: Batch) -> list[ClassificationResult]:
        """Feed one batch; classify, emit and return the results of the windows it completed."""
        self.samples_in += len(batch)
        dev = self._device(batch.device)
        dev.last_seen = time.monotonic()
        results = []
        for t_end, window in dev.accept(batch):
            r = self._classify(dev, batch.device, t_end, window)
            if r is None:
                continue
            self.windows_out += 1
            self.emit(r)
            results.append(r)
        return results

    def _classify(self, dev: DeviceStream, device: str, t_last: float,
                  window: np.ndarray) -> ClassificationResult | None:
        """One window (last sample at device time ``t_last``, s) → smoothed result, or None if the model gave NaN."""
        out = self.predict(window)
        ood = out[1] if isinstance(out, tuple) else None
        probs = np.asarray(out[0] if isinstance(out, tuple) else out, np.float32).reshape(-1)
        if not np.isfinite(probs).all():
            self.counters.add("model_non_finite", f"device {device!r}: model returned NaN/inf")
            return None
        dev.history.append(probs if ood is None else np.append(probs, ood))  # the score is smoothed alike
        if len(dev.history) > 1 and len({len(h) for h in dev.history}) == 1:
            probs = np.mean(np.stack(dev.history), axis=0)
        else:
            probs = dev.history[-1]
        if ood is not None:
            probs, ood = probs[:-1], float(probs[-1])
        dt = 1.0 / self.opts.rate_hz
        meta = getattr(self, "metadata", None) or {"labels": self.labels}
        return ClassificationResult.decided(
            probs, meta, self.opts.top_k, x=window, ood=ood, input=self.input_name or device, device=device,
            t_start=t_last - (self.opts.window_samples - 1) * dt, t_end=t_last + dt)

    def push_many(self, batches: Iterable[Batch]) -> list[ClassificationResult]:
        """Feed the batches of one message; those of the kind the model wants go first."""
        want = self.opts.gravity
        bs = sorted(batches, key=lambda b: 0 if (b.gravity is None or want is None or b.gravity == want) else 1)
        out = []
        for b in bs:
            out.extend(self.push(b))
        return out


class JsonLinesWriter:
    """Writes results (:class:`ClassificationResult` or dicts) as JSON lines to a text stream, flushing each line
    (thread-safe)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self.lines = 0

    def __call__(self, r: ClassificationResult | dict[str, Any]) -> None:
        line = json.dumps(r.to_json() if isinstance(r, ClassificationResult) else r, separators=(",", ":"))
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()
            self.lines += 1
