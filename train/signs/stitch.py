"""Continuous landmark streams stitched from isolated sign sequences (seeded), for training and benchmarks.

A stream is a ``[T, 543, 3]`` float32 array (NaN = not detected) made of sign sequences in a given
or random order, each time-resampled (speed jitter, nearest frame), joined by gaps of one of these
kinds:

- ``none``: back to back, the next sign starts on the next frame (as in real signing);
- ``transition``: a few frames linearly interpolated from the last frame of one sign to the first
  frame of the next (hands travelling between signs);
- ``idle``: an idle recording (the ``"-"`` class: hands down or resting), also speed-jittered;
- ``nohands``: frames with the previous frame's pose/face but no hands (hands out of view).

Every stream knows its reference: ``segments`` = ``(label, start, end)`` frame indices (end
exclusive), and :func:`frame_targets` turns them into one class index per frame (blank in gaps).

Out-of-vocabulary stretches: :func:`make_streams` with ``negatives`` replaces each sign slot, with
probability ``negative_rate``, by a sequence of a sign the model does not know; its segment label is
``"oov:<label>"`` (:data:`OOV_PREFIX`), which is no class, so :func:`frame_targets` makes it blank.
A part without any body point (e.g. a hands-only letter recording stitched into a hands+pose
stream) gets the previous part's last body frame (or the next part's first), so that "no body"
is no shortcut for "out of vocabulary".
Sequences never mix signers unless the caller passes them mixed: callers pass only one side of a
signer split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from edgelite.runtime.core.errors import DataError
from edgelite.runtime.layout import HAND_ROWS

GAP_KINDS = ("none", "transition", "idle", "nohands")
OOV_PREFIX = "oov:"


def is_oov(label: str) -> bool:
    """Whether a segment label marks an out-of-vocabulary stretch (``"oov:<label>"``)."""
    return str(label).startswith(OOV_PREFIX)


@dataclass(frozen=True)
class StitchOptions:
    """How signs are joined.

    - ``gap_weights``: probability of each gap kind in :data:`GAP_KINDS` order (normalised).
    - ``gap_frames``: ``(min, max)`` length of ``transition`` / ``nohands`` gaps in frames.
    - ``speed``: ``(min, max)`` time-resampling factor (new length = length × factor).
    - ``lead_frames`` / ``tail_frames``: ``(min, max)`` hand-less frames before the first and after the
      last sign (a stream starts and ends at rest).
    """

    gap_weights: tuple[float, float, float, float] = (0.4, 0.25, 0.2, 0.15)
    gap_frames: tuple[int, int] = (2, 10)
    speed: tuple[float, float] = (0.8, 1.25)
    lead_frames: tuple[int, int] = (0, 16)
    tail_frames: tuple[int, int] = (0, 16)

    def __post_init__(self) -> None:
        w = np.asarray(self.gap_weights, float)
        if w.shape != (len(GAP_KINDS),) or (w < 0).any() or w.sum() <= 0:
            raise DataError(f"gap_weights {self.gap_weights}: expected {len(GAP_KINDS)} non-negative weights "
                            f"for {', '.join(GAP_KINDS)}")
        if not (0 < self.speed[0] <= self.speed[1]):
            raise DataError(f"speed {self.speed}: expected 0 < min <= max")


BACK_TO_BACK = StitchOptions(gap_weights=(1, 0, 0, 0), speed=(1.0, 1.0), lead_frames=(8, 8), tail_frames=(20, 20))
IDLE_GAPS = StitchOptions(gap_weights=(0, 0, 1, 0), speed=(1.0, 1.0), lead_frames=(8, 8), tail_frames=(20, 20))
NOHANDS_GAPS = StitchOptions(gap_weights=(0, 0, 0, 1), gap_frames=(15, 20), speed=(1.0, 1.0),
                             lead_frames=(8, 8), tail_frames=(20, 20))


@dataclass
class Stream:
    """A stitched stream: ``frames [T,543,3]`` and its reference ``segments`` ``[(label, start, end)]``."""

    frames: np.ndarray
    segments: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [s[0] for s in self.segments]

    @property
    def sign_labels(self) -> list[str]:
        """The in-vocabulary reference: labels without out-of-vocabulary stretches."""
        return [s[0] for s in self.segments if not is_oov(s[0])]

    @property
    def oov_segments(self) -> list[tuple[str, int, int]]:
        return [s for s in self.segments if is_oov(s[0])]


def resample_time(x: np.ndarray, factor: float) -> np.ndarray:
    """Nearest-frame time resampling of ``[T, ...]`` to ``max(1, round(T × factor))`` frames."""
    t = len(x)
    n = max(1, int(round(t * float(factor))))
    idx = np.minimum(((np.arange(n) + 0.5) * t / n).astype(np.int64), t - 1)
    return x[idx]


def _rest(like: np.ndarray, n: int, hand_rows=HAND_ROWS) -> np.ndarray:
    """``n`` frames repeating ``like`` (``[543,3]``) without hands (NaN hands: out of view)."""
    out = np.repeat(np.asarray(like, np.float32)[None], n, axis=0)
    out[:, hand_rows] = np.nan
    return out


def _transition(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``n`` frames linearly interpolated between frames ``a`` and ``b`` (NaN where either is NaN)."""
    w = (np.arange(1, n + 1, dtype=np.float32) / (n + 1))[:, None, None]
    return (1 - w) * a[None] + w * b[None]


def _gap(kind: str, prev: np.ndarray, nxt: np.ndarray, idle: list[np.ndarray], o: StitchOptions,
         rng: np.random.Generator, hand_rows=HAND_ROWS) -> np.ndarray:
    n = int(rng.integers(o.gap_frames[0], o.gap_frames[1] + 1))
    if kind == "transition":
        return _transition(prev[-1], nxt[0], n)
    if kind == "idle" and idle:
        return resample_time(np.asarray(idle[int(rng.integers(len(idle)))], np.float32), rng.uniform(*o.speed))
    if kind in ("idle", "nohands"):
        return _rest(prev[-1], n, hand_rows)
    return np.zeros((0,) + prev.shape[1:], np.float32)


def fill_body(parts: list[np.ndarray], hand_rows=HAND_ROWS) -> list[np.ndarray]:
    """Parts ``[T_i,P,3]`` whose body (non-hand) rows are all NaN while a neighbour has them: those rows
    repeat the previous part's last frame (the next part's first for the first part). Others unchanged."""
    n_rows = parts[0].shape[1]
    body = np.setdiff1d(np.arange(n_rows), np.asarray(list(hand_rows), np.int64))
    if not len(body):
        return parts
    has = [bool(np.isfinite(p[:, body, 0]).any()) for p in parts]
    out = list(parts)
    for k, p in enumerate(parts):
        if has[k]:
            continue
        src = next((parts[j][-1] for j in range(k - 1, -1, -1) if has[j]), None)
        if src is None:
            src = next((parts[j][0] for j in range(k + 1, len(parts)) if has[j]), None)
        if src is not None:
            q = p.copy()
            q[:, body] = src[body]
            out[k] = q
    return out


def stitch(seqs: list[np.ndarray], labels: list[str], rng: np.random.Generator, options: StitchOptions | None = None,
           idle: list[np.ndarray] | None = None, hand_rows=HAND_ROWS) -> Stream:
    """Join ``seqs`` (each ``[T_i,543,3]``) in the given order into one :class:`Stream`.

    ``hand_rows``: rows of the hand landmarks (for selected points ``[T,P,3]`` with hands first:
    ``range(42)``)."""
    o = options or StitchOptions()
    if not seqs or len(seqs) != len(labels):
        raise DataError(f"stitch: need one label per sequence and at least one sequence, got {len(seqs)} "
                        f"sequences and {len(labels)} labels")
    idle = list(idle or [])
    w = np.asarray(o.gap_weights, float) / float(np.sum(o.gap_weights))
    parts = [np.asarray(resample_time(np.asarray(s, np.float32), rng.uniform(*o.speed)), np.float32) for s in seqs]
    parts = fill_body(parts, hand_rows)
    out: list[np.ndarray] = [_rest(parts[0][0], int(rng.integers(o.lead_frames[0], o.lead_frames[1] + 1)), hand_rows)]
    pos = len(out[0])
    segs = []
    for k, (p, lab) in enumerate(zip(parts, labels)):
        if k:
            g = _gap(GAP_KINDS[int(rng.choice(len(GAP_KINDS), p=w))], parts[k - 1], p, idle, o, rng, hand_rows)
            out.append(g)
            pos += len(g)
        out.append(p)
        segs.append((str(lab), pos, pos + len(p)))
        pos += len(p)
    out.append(_rest(parts[-1][-1], int(rng.integers(o.tail_frames[0], o.tail_frames[1] + 1)), hand_rows))
    return Stream(np.concatenate(out, 0).astype(np.float32), segs)


def sample_order(labels: np.ndarray, n: int, rng: np.random.Generator, allowed: list[str] | None = None) -> list[int]:
    """``n`` sequence indices with random labels from ``allowed`` (default all), no label twice in a row."""
    labels = np.asarray(labels).astype(str)
    classes = sorted(set(allowed if allowed is not None else labels.tolist()) & set(labels.tolist()))
    if not classes:
        raise DataError("stitch: no sequences of the requested labels")
    by = {c: np.where(labels == c)[0] for c in classes}
    out, prev = [], None
    for _ in range(n):
        choices = [c for c in classes if c != prev] or classes
        c = choices[int(rng.integers(len(choices)))]
        out.append(int(by[c][int(rng.integers(len(by[c])))]))
        prev = c
    return out


def make_streams(seqs: list[np.ndarray], labels: np.ndarray, n_streams: int, signs_per_stream: int, seed: int,
                 options: StitchOptions | None = None, idle_label: str = "-",
                 allowed: list[str] | None = None, hand_rows=HAND_ROWS,
                 negatives: list[np.ndarray] | None = None, negative_labels: list[str] | None = None,
                 negative_rate: float = 0.0) -> list[Stream]:
    """``n_streams`` seeded streams of ``signs_per_stream`` random signs (idle recordings only as gaps).

    ``negatives`` (with ``negative_labels``): out-of-vocabulary sequences; each slot is one of them
    with probability ``negative_rate``, labelled ``"oov:<label>"`` (blank for training)."""
    if negatives is not None and (not negatives or len(negatives) != len(negative_labels or [])):
        raise DataError(f"make_streams: need one label per negative sequence and at least one, got "
                        f"{len(negatives)} sequences and {len(negative_labels or [])} labels")
    if not 0.0 <= negative_rate < 1.0:
        raise DataError(f"make_streams: negative_rate {negative_rate} must be in [0, 1)")
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).astype(str)
    idle = [seqs[i] for i in np.where(labels == idle_label)[0]]
    signs = [c for c in sorted(set(labels.tolist())) if c != idle_label]
    if allowed is not None:
        signs = [c for c in signs if c in set(allowed)]
    streams = []
    for _ in range(n_streams):
        order = sample_order(labels, signs_per_stream, rng, signs)
        parts, labs = [seqs[i] for i in order], [str(labels[i]) for i in order]
        if negatives and negative_rate > 0:
            for j in np.where(rng.random(len(order)) < negative_rate)[0]:
                n = int(rng.integers(len(negatives)))
                parts[j], labs[j] = negatives[n], OOV_PREFIX + str(negative_labels[n])
        streams.append(stitch(parts, labs, rng, options, idle, hand_rows))
    return streams


def spelled_streams(seqs: list[np.ndarray], labels: np.ndarray, words: list[str], n_streams: int,
                    letters_per_stream: int, seed: int, options: StitchOptions | None = None,
                    idle_label: str = "-") -> list[Stream]:
    """Fingerspelling streams: random ``words`` spelled letter by letter (one random sequence per letter),
    concatenated and cut to ``letters_per_stream`` letters. Words with letters absent from ``labels`` are skipped."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).astype(str)
    by = {c: np.where(labels == c)[0] for c in set(labels.tolist())}
    usable = [w for w in words if w and all(ch in by for ch in w)]
    if not usable:
        raise DataError("spelled_streams: no word can be spelled with the available letters")
    idle = [seqs[i] for i in by.get(idle_label, [])]
    streams = []
    for _ in range(n_streams):
        letters: list[str] = []
        while len(letters) < letters_per_stream:
            letters += list(usable[int(rng.integers(len(usable)))])
        letters = letters[:letters_per_stream]
        idx = [int(by[ch][int(rng.integers(len(by[ch])))]) for ch in letters]
        streams.append(stitch([seqs[i] for i in idx], letters, rng, options, idle))
    return streams


def frame_targets(stream: Stream, classes: list[str], blank: str, edge: int = 1) -> np.ndarray:
    """Class index per frame ``[T]`` int64: the sign covering the frame, else ``blank``.

    ``edge`` frames on each side of a back-to-back junction are blank too, so that two signs in a
    row (even the same sign twice) stay two separate runs.
    """
    idx = {c: i for i, c in enumerate(classes)}
    y = np.full(len(stream.frames), idx[blank], np.int64)
    for k, (lab, s, e) in enumerate(stream.segments):
        a, b = s, e
        if edge and k and stream.segments[k - 1][2] == s:
            a = s + edge
        if edge and k + 1 < len(stream.segments) and stream.segments[k + 1][1] == e:
            b = e - edge
        if lab in idx and b > a:
            y[a:b] = idx[lab]
    return y
