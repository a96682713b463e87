"""Record your own signs from a camera or video as Kaggle asl-signs parquet files (no sign model needed).

Every segment (hands appear and move → rest or leave) is written to
``OUT/train_landmark_files/<participant>/<sequence_id>.parquet`` (543 rows per frame: face,
left_hand, pose, right_hand; columns frame,row_id,type,landmark_index,x,y,z; NaN where not
tracked) and a row ``path,participant_id,sequence_id,sign`` is appended to ``OUT/train.csv`` with
the ``--label`` you give; both writes are atomic, and Ctrl-C stops after saving the open segment.
The layout is the one ``edgelite train signs`` reads.

examples:
  edgelite record webcam --label hello --out my_signs --camera 0 --participant 7
  edgelite record webcam --label thankyou --out my_signs --video me_signing.mp4 --headless
"""

from __future__ import annotations

import argparse

PATH = ("record", "webcam")
HELP = "record labelled sign segments from a camera/video as asl-signs parquet + train.csv"


def configure(p: argparse.ArgumentParser) -> None:
    from edgelite.commands.run_webcam import add_capture_arguments

    p.add_argument("--label", required=True, help="the sign being recorded (train.csv 'sign')")
    p.add_argument("--out", "--record", dest="record", required=True, metavar="DIR",
                   help="dataset folder (train.csv + train_landmark_files/)")
    add_capture_arguments(p)


def run(args: argparse.Namespace) -> int:
    import sys

    from edgelite.commands.run_webcam import options_from_args, run_mapped

    if not args.label.strip():
        from edgelite.runtime.core.errors import EdgeliteError

        raise EdgeliteError("--label must not be empty")
    summary = run_mapped(options_from_args(args, None))
    print(f"edgelite: {summary['recorded']} segment(s) of {args.label!r} saved to {args.record}/train.csv",
          file=sys.stderr)
    return 130 if summary["interrupted"] else 0
