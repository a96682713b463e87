"""Leak-free validation splits: by group (user/signer/device/recording) or by contiguous time blocks.

Random splits across windows of one recording overstate accuracy (neighbouring windows overlap),
so edgelite never makes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Fold:
    """Indices of one train/held-out split and how it was made."""

    train: np.ndarray
    val: np.ndarray
    held_out: list[str]
    kind: str

    def describe(self) -> dict:
        return {"kind": self.kind, "held_out": self.held_out, "n_train": int(len(self.train)), "n_val": int(len(self.val))}


def group_folds(labels: np.ndarray, groups: np.ndarray, max_folds: int = 5, holdout: list[str] | None = None,
                seed: int = 0) -> list[Fold]:
    """Folds that never put one group on both sides.

    - ``holdout``: one fold holding out exactly these groups.
    - Otherwise, if at least two groups carry several labels (they are users/signers/devices),
      leave-one-group-out over those; single-label groups (e.g. an anonymous negatives file) are
      spread round-robin over the folds so every fold sees them.
    - Else (every group is one recording of one class): ``max_folds`` folds over shuffled groups,
      stratified by label.
    """
    labels = np.asarray(labels).astype(str)
    groups = np.asarray(groups).astype(str)
    uniq = sorted(set(groups))
    if holdout:
        missing = [h for h in holdout if h not in uniq]
        if missing:
            raise ValueError(f"held-out group(s) {missing} not in the data (groups: {', '.join(uniq[:20])})")
        val = np.isin(groups, holdout)
        return [Fold(np.where(~val)[0], np.where(val)[0], list(holdout), "holdout")]
    n_labels = {g: len(set(labels[groups == g])) for g in uniq}
    multi = [g for g in uniq if n_labels[g] > 1]
    rng = np.random.default_rng(seed)
    assign: dict[str, int] = {}
    if len(multi) >= 2:
        k = len(multi)
        kind = "leave-one-group-out"
        for i, g in enumerate(multi):
            assign[g] = i
        singles = [g for g in uniq if g not in assign]
        for i, g in enumerate(singles):
            assign[g] = i % k
    else:
        kind = "group-k-fold"
        k = min(max_folds, len(uniq))
        if k < 2:
            raise ValueError(f"need at least 2 groups to hold one out, found {len(uniq)}")
        # stratify: deal each label's groups round-robin in random order
        by_label: dict[str, list[str]] = {}
        for g in uniq:
            by_label.setdefault(labels[groups == g][0], []).append(g)
        i = 0
        for lab in sorted(by_label):
            gs = by_label[lab]
            rng.shuffle(gs)
            for g in gs:
                assign[g] = i % k
                i += 1
    folds = []
    for f in range(k):
        held = sorted(g for g, a in assign.items() if a == f)
        val = np.isin(groups, held)
        folds.append(Fold(np.where(~val)[0], np.where(val)[0], held, kind))
    return [f for f in folds if len(f.val) and len(f.train)]


def time_block_split(recording: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, val_fraction: float = 0.2,
                     gap_s: float = 0.0) -> Fold:
    """Per recording, the last ``val_fraction`` of its time span is held out; training windows must end
    at least ``gap_s`` (≥ one window) before the held-out block starts, so no sample is on both sides.

    ``start_s``/``end_s``: each window's time span in seconds within its recording.
    """
    recording = np.asarray(recording).astype(str)
    train, val = [], []
    for r in sorted(set(recording)):
        idx = np.where(recording == r)[0]
        t0, t1 = start_s[idx].min(), end_s[idx].max()
        cut = t1 - val_fraction * (t1 - t0)
        v = idx[start_s[idx] >= cut]
        tr = idx[end_s[idx] <= cut - gap_s]
        val.extend(v.tolist())
        train.extend(tr.tolist())
    return Fold(np.array(sorted(train), np.int64), np.array(sorted(val), np.int64),
                [f"last {val_fraction:.0%} of each recording (gap {gap_s:g} s)"], "time-block")


def time_block_folds(recording: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, k: int = 5,
                     gap_s: float = 0.0) -> list[Fold]:
    """Blocked cross-validation in time: each recording's span is cut into ``k`` contiguous blocks;
    fold ``j`` holds out block ``j`` of every recording and trains only on windows that end at
    least ``gap_s`` before the block starts or start at least ``gap_s`` after it ends. Held-out windows
    lie entirely inside their block, so every training sample is ≥ ``gap_s`` away from every held-out one.
    """
    recording = np.asarray(recording).astype(str)
    folds = []
    for j in range(k):
        train, val = [], []
        for r in sorted(set(recording)):
            idx = np.where(recording == r)[0]
            t0, t1 = start_s[idx].min(), end_s[idx].max()
            b0 = t0 + j * (t1 - t0) / k
            b1 = t0 + (j + 1) * (t1 - t0) / k
            inside = (start_s[idx] >= b0) & (end_s[idx] <= b1 + 1e-9)
            clear = (end_s[idx] <= b0 - gap_s) | (start_s[idx] >= b1 + gap_s)
            val.extend(idx[inside].tolist())
            train.extend(idx[clear & ~inside].tolist())
        folds.append(Fold(np.array(sorted(train), np.int64), np.array(sorted(val), np.int64),
                          [f"time block {j + 1}/{k} of each recording (gap {gap_s:g} s)"], "time-block-k-fold"))
    return folds
