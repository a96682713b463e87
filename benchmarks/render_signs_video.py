"""Render real ASL landmark sequences (Kaggle asl-signs parquet) as moving hand drawings into a video.

Each sequence's hands (and forearms, from the pose elbows) are drawn as filled skin-coloured
shapes on a plain background, so that MediaPipe's palm detector finds them; the video thus carries
real signing motion and its ground truth: the drawn landmark positions are saved next to the video
(``<video>.npz``, never committed) for the tracking benchmark and the tests.

Geometry: the Kaggle coordinates are normalised to portrait phone videos (height/width ≈ 4/3, fitted
from bone-length constancy), so the default canvas is 480x640 and a landmark (x, y) is drawn at
pixel (x*480, y*640). The orientation is the Kaggle one: the camera's raw (non-mirrored) view,
``right_hand`` = the signer's right hand, appearing on the image's left.

    python benchmarks/render_signs_video.py --out /tmp/signs.mp4 --n 12

Ground-truth npz arrays: ``px`` [N,2,21,2] float32 image pixels (slot 0 = Kaggle ``left_hand``,
1 = ``right_hand``; NaN = not drawn), ``norm`` [N,2,21,3] (x/y normalised to the canvas, z from the
data), ``seq`` [N] int (index into ``paths``/``signs``, -1 in the gaps), ``paths``, ``signs``,
``fps``, ``width``, ``height``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

HAND = {"left_hand": (468, 489), "right_hand": (522, 543)}
POSE0 = 489
# pose indices: 13 left elbow, 14 right elbow, 15 left wrist, 16 right wrist
ELBOW = {"left_hand": 13, "right_hand": 14}
FINGERS = [(1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20)]
SKIN = (176, 206, 234)  # BGR: light skin
SKIN_DARK = (120, 150, 190)
BACKGROUND = (40, 40, 40)  # BGR: dark grey


def read_sequence(path: str | os.PathLike) -> np.ndarray:
    """Kaggle asl-signs parquet → ``[T,543,3]`` float32 (NaN = missing)."""
    import pyarrow.parquet as pq

    t = pq.read_table(path, columns=["frame", "x", "y", "z"])
    n = t.num_rows
    if n == 0 or n % 543:
        raise ValueError(f"{path}: {n} rows is not a multiple of 543")
    xyz = np.stack([t.column(c).to_numpy(zero_copy_only=False).astype(np.float32) for c in "xyz"], -1)
    return xyz.reshape(-1, 543, 3)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * 16)), int(round(float(p[1]) * 16))


def draw_hand(img: np.ndarray, px: np.ndarray, z: np.ndarray, elbow: np.ndarray | None, finger: float = 0.17) -> None:
    """Draw one hand (``px`` [21,2] pixels, ``z`` [21] depth) and its forearm onto ``img`` (BGR)."""
    import cv2

    palm_w = float(np.linalg.norm(px[5] - px[17]))
    size = max(float(np.linalg.norm(px[0] - px[9])), palm_w, 4.0)
    fw = max(2, int(size * finger))  # finger thickness
    aa = cv2.LINE_AA
    if elbow is not None and np.isfinite(elbow).all():
        fore = max(3, int(size * 0.65))
        cv2.line(img, _pt(elbow), _pt(px[0]), SKIN_DARK, fore + 4, aa, shift=4)
        cv2.line(img, _pt(elbow), _pt(px[0]), SKIN, fore, aa, shift=4)
    palm = np.array([px[i] for i in (0, 1, 2, 5, 9, 13, 17)], np.float32)
    hull = cv2.convexHull(palm)
    hull_i = np.round(hull * 16).astype(np.int32)
    cv2.fillConvexPoly(img, hull_i, SKIN_DARK, aa, shift=4)
    # shrink slightly for a darker rim
    c = hull.reshape(-1, 2).mean(0)
    inner = np.round(((hull.reshape(-1, 2) - c) * 0.93 + c) * 16).astype(np.int32)
    cv2.fillConvexPoly(img, inner, SKIN, aa, shift=4)
    cv2.circle(img, _pt(px[0]), int(fw * 1.4 * 16), SKIN, -1, aa, shift=4)
    # fingers from far to near (MediaPipe z: smaller = nearer the camera)
    order = sorted(range(5), key=lambda f: -float(np.nanmean(z[list(FINGERS[f])])))
    for f in order:
        chain = list(FINGERS[f])
        w0 = fw * (1.25 if f == 0 else 1.0)
        for k in range(len(chain) - 1):
            a, b = px[chain[k]], px[chain[k + 1]]
            w = max(2, int(w0 * (1.0 - 0.1 * k)))
            cv2.line(img, _pt(a), _pt(b), SKIN_DARK, w + 3, aa, shift=4)
        for k in range(len(chain) - 1):
            a, b = px[chain[k]], px[chain[k + 1]]
            w = max(2, int(w0 * (1.0 - 0.1 * k)))
            cv2.line(img, _pt(a), _pt(b), SKIN, w, aa, shift=4)
            cv2.circle(img, _pt(b), int(w * 8), SKIN, -1, aa, shift=4)


def render(
    rows: list[dict],
    root: Path,
    out: Path,
    width: int = 480,
    height: int = 640,
    fps: float = 30.0,
    gap_frames: int = 20,
    repeat: int = 1,
    forearm: bool = True,
    blur: float = 3.0,
) -> dict:
    """Render ``rows`` (train.csv dicts) into ``out`` (mp4 or avi) and ``out.with_suffix('.npz')``."""
    import cv2

    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if out.suffix.lower() == ".mp4" else "MJPG"))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_video = out.with_name(out.stem + ".tmp" + out.suffix)
    vw = cv2.VideoWriter(str(tmp_video), fourcc, fps, (width, height))
    if not vw.isOpened():
        raise RuntimeError(f"{out}: OpenCV cannot write this video format")
    scale = np.array([width, height], np.float32)
    px_all, norm_all, seq_all = [], [], []

    def blank(n: int) -> None:
        img = np.empty((height, width, 3), np.uint8)
        img[:] = BACKGROUND
        for _ in range(n):
            vw.write(img)
            px_all.append(np.full((2, 21, 2), np.nan, np.float32))
            norm_all.append(np.full((2, 21, 3), np.nan, np.float32))
            seq_all.append(-1)

    blank(gap_frames)
    for si, r in enumerate(rows):
        seq = read_sequence(root / r["path"])
        for _ in range(repeat):
            for fr in seq:
                img = np.empty((height, width, 3), np.uint8)
                img[:] = BACKGROUND
                px_f = np.full((2, 21, 2), np.nan, np.float32)
                norm_f = np.full((2, 21, 3), np.nan, np.float32)
                hands = []
                for slot, name in enumerate(("left_hand", "right_hand")):
                    a, b = HAND[name]
                    h = fr[a:b]
                    if not np.isfinite(h[:, :2]).all():
                        continue
                    hp = h[:, :2] * scale
                    z = np.nan_to_num(h[:, 2])
                    el = fr[POSE0 + ELBOW[name], :2] * scale if forearm else None
                    hands.append((float(np.mean(z)), hp, z, el))
                    px_f[slot] = hp
                    norm_f[slot] = np.concatenate([h[:, :2], z[:, None]], 1)
                for _, hp, z, el in sorted(hands, key=lambda t: -t[0]):
                    draw_hand(img, hp, z, el)
                if blur > 0 and hands:
                    # soft edges like a real camera: sharp cartoon outlines are rarely detected as palms
                    img = cv2.GaussianBlur(img, (0, 0), blur)
                vw.write(img)
                px_all.append(px_f)
                norm_all.append(norm_f)
                seq_all.append(si)
        blank(gap_frames)
    vw.release()
    os.replace(tmp_video, out)
    gt = {
        "px": np.stack(px_all),
        "norm": np.stack(norm_all),
        "seq": np.asarray(seq_all, np.int32),
        "paths": np.asarray([r["path"] for r in rows], dtype=np.str_),
        "signs": np.asarray([r["sign"] for r in rows], dtype=np.str_),
        "fps": np.float32(fps),
        "width": np.int32(width),
        "height": np.int32(height),
    }
    gt_path = out.with_suffix(".npz")
    tmp = gt_path.with_name(gt_path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **gt)
    os.replace(tmp, gt_path)
    return gt


def read_frames_rgb(video: str | os.PathLike) -> list[np.ndarray]:
    """All frames of ``video`` as RGB ``[H,W,3]`` uint8 arrays (decoded with OpenCV)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def load_ground_truth(video: str | os.PathLike) -> dict[str, np.ndarray]:
    """The npz written next to a rendered video (no pickle)."""
    with np.load(Path(video).with_suffix(".npz"), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def pick_rows(csv_path: Path, n: int, min_hand_frames: int = 8, seed: int = 0) -> list[dict]:
    """``n`` sequences, alternating signs, distinct signers first, with at least ``min_hand_frames`` hand frames."""
    rows = list(csv.DictReader(open(csv_path, newline="", encoding="utf-8")))
    rng = np.random.default_rng(seed)
    rng.shuffle(rows)
    picked, signers = [], set()
    root = csv_path.parent
    for pass_ in range(2):
        for r in rows:
            if len(picked) >= n:
                break
            if r in picked or (pass_ == 0 and r["participant_id"] in signers):
                continue
            seq = read_sequence(root / r["path"])
            hands = np.isfinite(seq[:, 468:489, 0]).all(1) | np.isfinite(seq[:, 522:543, 0]).all(1)
            if hands.sum() < min_hand_frames:
                continue
            picked.append(r)
            signers.add(r["participant_id"])
    return picked


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="asl-signs folder (default: $EDGELITE_SHARED/data/asl-signs)")
    ap.add_argument("--out", default="/tmp/edgelite_signs/signs.mp4", help="video path (.mp4 or .avi)")
    ap.add_argument("--n", type=int, default=12, help="number of sequences")
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--height", type=int, default=640)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--gap", type=int, default=20, help="blank frames between sequences")
    ap.add_argument("--repeat", type=int, default=1, help="play each sequence this many times in a row")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--blur", type=float, default=3.0, help="Gaussian blur sigma in pixels (0 = sharp)")
    args = ap.parse_args(argv)
    if args.data:
        data = Path(args.data)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from edgelite.runtime.core.paths import shared_dir

        data = shared_dir() / "data" / "asl-signs"
    rows = pick_rows(data / "train.csv", args.n, seed=args.seed)
    gt = render(rows, data, Path(args.out), args.width, args.height, args.fps, args.gap, args.repeat, blur=args.blur)
    hands = np.isfinite(gt["px"][:, :, 0, 0]).any(1).sum()
    print(f"wrote {args.out}: {len(gt['seq'])} frames ({hands} with hands), {len(rows)} sequences; "
          f"ground truth {Path(args.out).with_suffix('.npz')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
