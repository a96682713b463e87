"""Recognise signs live from a camera or a video with a ``.tflite`` sign model (LiteRT; no TensorFlow).

Hands are tracked with LiteRT running the two models inside MediaPipe's hand_landmarker.task
(``--hands litert``, default; no mediapipe needed) or with MediaPipe Tasks (``--hands mediapipe``).
Landmarks go into the model's [T,543,3] layout (raw, non-mirrored camera view; the signer's right
hand in ``right_hand``; NaN for what is not tracked). Sign segments (hands appear and move → rest or
leave) are classified (``--mode segment``), or a sliding window is (``--mode sliding``).

The window shows landmarks, the top-3 labels, FPS and per-stage timings ('q' or Esc quits).
--headless prints one JSON line per segment in the JSON shape of `edgelite predict`:
{"input": <video or "camera N">, "label", "score", "top": [{"label", "score"}, ...], "t_start", "t_end"}
(label "no sign" below --threshold), and a {"summary": ...} line at the end.
``--record DIR`` also saves every segment as a Kaggle asl-signs parquet + a DIR/train.csv row
(label: ``--label``, else the recognised label). Ctrl-C stops and finishes the recording.

The hand model: ``--hand-model PATH``, else ~/.cache/edgelite/hand_landmarker.task, else
$EDGELITE_SHARED/models/hand_landmarker.task, else (with ``--download``) MediaPipe's official file.

examples:
  edgelite run webcam --model runs/signs/model.tflite --camera 0
  edgelite run webcam --model model.tflite --video clip.mp4 --headless --hands litert
  edgelite run webcam --model model.tflite --camera 0 --mirror --record my_signs --label hello
"""

from __future__ import annotations

import argparse

PATH = ("run", "webcam")
HELP = "recognise signs from a camera or video with a sign .tflite (hand tracking via LiteRT or MediaPipe)"


def add_capture_arguments(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``run webcam`` and ``record webcam``."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=None, metavar="N", help="camera index (default 0 when no --video)")
    src.add_argument("--video", default=None, metavar="FILE", help="read frames from a video file instead")
    p.add_argument("--hands", choices=("litert", "mediapipe"), default="litert",
                   help="hand tracking backend (default litert: no mediapipe needed)")
    p.add_argument("--hand-model", default=None, metavar="PATH", help="hand_landmarker.task bundle")
    p.add_argument("--headless", action="store_true", help="no window: JSON lines on stdout")
    p.add_argument("--mirror", action="store_true",
                   help="flip frames horizontally first (selfie view); landmarks are flipped back for the model")
    p.add_argument("--num-hands", type=int, default=2, choices=(1, 2), help="hands to track at most (default 2)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--participant", type=int, default=0, help="participant_id written to train.csv (recording)")
    p.add_argument("--threads", type=int, default=None, help="LiteRT threads")
    p.add_argument("--landmark-model", default="float", metavar="float|int8|auto|PATH",
                   help="litert hand landmark model: float (MediaPipe's numbers, default), int8 (~1.3x faster "
                        "tracking, +0.7-0.9 px; made once by benchmarks/hands_speed.py), auto (int8 when made)")
    p.add_argument("--download", action="store_true",
                   help="download hand_landmarker.task from MediaPipe's official address if not found locally")
    p.add_argument("--rest-frames", type=int, default=8, help="frames of rest/absence that end a segment")
    p.add_argument("--min-frames", type=int, default=4, help="ignore segments with fewer hand frames")
    p.add_argument("--out-video", default=None, metavar="FILE", help="also write the overlay video (mp4)")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="SIGN.tflite", help="sign model: [T,543,3] → probabilities")
    add_capture_arguments(p)
    p.add_argument("--record", default=None, metavar="DIR", help="save each segment (parquet + train.csv row)")
    p.add_argument("--label", default=None, help="sign written to train.csv when recording (default: recognised label)")
    p.add_argument("--mode", choices=("segment", "sliding", "continuous"), default="segment",
                   help="segment: classify each sign segment; sliding: classify a sliding window; continuous: signs "
                        "back to back with the run's spotter.tflite beside the model (default segment)")
    p.add_argument("--threshold", type=float, default=0.5, help="minimum probability to accept a sign")
    p.add_argument("--closed-set", action="store_true",
                   help="never answer 'unknown': ignore the model's open-set threshold (and the spotter's reject)")
    p.add_argument("--window", type=int, default=32, help="sliding mode: frames per window")
    p.add_argument("--stride", type=int, default=8, help="sliding mode: classify every N frames")
    p.add_argument("--pose", choices=("auto", "on", "off"), default="auto",
                   help="pose tracking (MediaPipe pose_landmarker_full.task); auto = if the model uses pose")
    p.add_argument("--pose-model", default=None, metavar="PATH", help="MediaPipe pose_landmarker .task file (default: cache, then shared models)")


def options_from_args(args: argparse.Namespace, model: str | None):
    from edgelite.runtime.signs.recognize import SegmenterOptions
    from edgelite.runtime.vision.webcam import WebcamOptions

    camera = args.camera if (args.camera is not None or args.video is not None) else 0
    pose = {"auto": None, "on": True, "off": False}[getattr(args, "pose", "off")]
    return WebcamOptions(
        model=model, camera=camera if args.video is None else None, video=args.video, hands=args.hands,
        hand_model=args.hand_model, headless=args.headless, record=getattr(args, "record", None),
        label=getattr(args, "label", None), participant=args.participant, mode=getattr(args, "mode", "segment"),
        threshold=getattr(args, "threshold", 0.5), mirror=args.mirror, num_hands=args.num_hands,
        max_frames=args.max_frames, pose=pose, pose_model=getattr(args, "pose_model", None),
        num_threads=args.threads, out_video=args.out_video, allow_download=args.download,
        landmark_model=args.landmark_model,
        segmenter=SegmenterOptions(rest_frames=args.rest_frames, min_frames=args.min_frames),
        window=getattr(args, "window", 32), stride=getattr(args, "stride", 8),
        closed_set=getattr(args, "closed_set", False),
    )


FLAGS = {
    "headless=True": "--headless", "run headless instead": "rerun with --headless", "(model)": "(--model)",
    "(record)": "(--record DIR)", "hands='mediapipe'": "--hands mediapipe", "hands='litert'": "--hands litert",
    "(model_path)": "(--hand-model PATH)", "(allow_download)": "(--download)", "camera (an index)": "--camera N",
    "video (a file)": "--video FILE", "num_threads": "--threads", "landmark_model='float'": "--landmark-model float",
}


def run_mapped(opts):
    """``run_webcam(opts)`` with library parameter names in errors shown as this CLI's flags."""
    from edgelite.commands._flags import cli_names
    from edgelite.runtime.vision.webcam import run_webcam

    with cli_names(FLAGS):
        return run_webcam(opts)


def run(args: argparse.Namespace) -> int:
    import sys

    summary = run_mapped(options_from_args(args, args.model))
    if summary["interrupted"]:
        print(f"edgelite: interrupted; {summary['recorded']} segment(s) recorded", file=sys.stderr)
        return 130
    if not args.headless:
        print(f"{summary['frames']} frames, {summary['recognised']} sign(s) recognised, "
              f"{summary['fps']} FPS", file=sys.stderr)
    return 0
