"""Train a sign classifier on MediaPipe landmark sequences and export a .tflite (Kaggle ISLR signature).

The .tflite takes raw frames: input `inputs` float32 [T, 543, 3] (any T >= 1; MediaPipe Holistic
order face, left_hand, pose, right_hand; NaN = not detected) and returns `outputs` float32
[num_classes]. Landmark selection, NaN-aware normalisation, dominant-hand mirroring, frame
selection/resampling and motion features run inside the graph (builtin TFLite ops only).

Validation is always by signer: --holdout-signers A,B holds those signers out; otherwise a group
k-fold over signers (--folds K). Metrics come from each fold's .tflite on its held-out signers. Early
stopping uses an inner split of the training signers only. The shipped model is then fitted on ALL
sequences (early-stopping signers included) for the folds' mean best epoch; --no-final ships fold
1's model instead. An open-set threshold and temperature fitted on the out-of-fold predictions go
into the metadata (`openset`): predictions below it are answered "unknown"; MP_Data's "-" class is
answered "no sign", and --background trains an explicit "other" class answered "unknown".

Formats:
  asl-signs  Kaggle layout: train.csv + train_landmark_files/<participant>/<sequence>.parquet;
             the signer is participant_id; sign_to_prediction_index_map.json (if present) fixes
             the output order (250 signs).
  mp-data    MP_Data/<label>/<seq>/<frame>.npy folder or a .tar.xz holding it; --signers CSV
             (root,label,sequence,signer) gives each sequence's signer.

Landmark sets: hands (42 points, what webcam hand tracking gives), hands+pose (+25 upper-body pose
points), kaggle (hands, lips, eyes, nose, pose subset as in the ISLR winners).

Writes RUN/: model.keras, saved_model/, model.tflite (metadata embedded), metadata.json,
report.json (accuracy, top5, macro_f1, per-class, confusion matrix), confusion_matrix.png,
training_curves.png, eval_data.npz (held-out raw inputs + calibration samples), checkpoints/,
spotter.tflite (continuous signing, for `edgelite predict --continuous`; --no-continuous skips it).
An existing run folder is refused unless --overwrite (then emptied first, checkpoints included).

Fine-tune (--init RUN DATA...): adapt an existing sign run to a new signer or new signs on the CPU in
minutes. DATA: `edgelite record webcam` output (train.csv + parquet), MP_Data folders/.tar.xz, .npy
[T,543,3] or .parquet sequence files (label = their folder's name, or --label), several allowed. RUN's
preprocessing and label order are kept; new signs are appended (output units imprinted from their
mean embedding; --new-signs skip leaves them out). Writes a new run folder like a training run;
report.json says which run it fine-tunes and on what data (--eval DATA: held-out recordings to report on).

examples:
  edgelite train signs --init runs/words my_signs/ --out runs/words-me
  edgelite train signs --init runs/words me/hello/*.npy me/tea/*.npy --eval me_test/ --out runs/words-me
  edgelite train signs --data ../shared/data/mp-data/traduttore/MP_Data_16actions.tar.xz --format mp-data \\
      --signers ../shared/data/mp-data/traduttore/signers.csv --landmarks hands+pose \\
      --holdout-signers TheCamNelson --out runs/words
  edgelite train signs --data ../shared/data/asl-signs --format asl-signs --folds 5 --out runs/asl2
"""

from __future__ import annotations

import argparse

from edgelite.commands._run_args import add_run_arguments

PATH = ("train", "signs")
HELP = "train a sign classifier on landmark sequences (asl-signs parquet or MP_Data) → .tflite"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="asl-signs folder, or MP_Data folder / .tar.xz (required unless --init)")
    p.add_argument("--format", dest="fmt", choices=["asl-signs", "mp-data"], help="data layout (required unless --init)")
    p.add_argument("--init", metavar="RUN", help="fine-tune this sign run folder on DATA instead of training from scratch")
    p.add_argument("finetune_data", nargs="*", metavar="DATA", help="--init: recordings to fine-tune on (any sign format)")
    p.add_argument("--label", help="--init: label of bare sequence files (default: their folder's name)")
    p.add_argument("--new-signs", choices=["extend", "skip"], default="extend",
                   help="--init: signs RUN does not know extend the label set (default) or are left out")
    p.add_argument("--finetune-layers", choices=["all", "head"], default="all",
                   help="--init: train every layer but BatchNorm (default) or the output layer only")
    p.add_argument("--steps", type=int, default=150, help="--init: optimisation steps (default 150)")
    p.add_argument("--eval", nargs="+", default=[], metavar="DATA", help="--init: held-out recordings for the report")
    p.add_argument("--landmarks", default="hands", choices=["hands", "hands+pose", "kaggle"],
                   help="landmark set fed to the model (default hands)")
    p.add_argument("--signers", default=None, help="CSV root,label,sequence,signer (mp-data)")
    p.add_argument("--holdout-signers", default="", help="comma-separated signers to hold out (else k-fold)")
    p.add_argument("--folds", type=int, default=5, help="signer group k-fold when no holdout is given (default 5)")
    p.add_argument("--epochs", type=int, default=40, help="maximum epochs (early stopping, default 40)")
    p.add_argument("--size", default="small", choices=["tiny", "small", "base"], help="model size (default small)")
    p.add_argument("--max-len", type=int, default=None, help="frames after resampling (default min(64, longest))")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size (default 64; --init 16)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate, cosine decay (default 2e-3; --init 5e-4)")
    p.add_argument("--patience", type=int, default=10, help="early-stopping patience in epochs")
    p.add_argument("--no-augment", action="store_true", help="disable augmentation")
    p.add_argument("--label-map", default=None, help="JSON sign→index fixing the output order")
    p.add_argument("--cache", default=None, help="cache folder for decoded sequences")
    p.add_argument("--classes", default="", help="comma-separated signs to keep (default: all in --data)")
    p.add_argument("--background", default=None,
                   help="sequences of other signs (asl-signs folder or MP_Data folder/.tar.xz) trained as one "
                        "explicit 'other' class, answered as 'unknown'")
    p.add_argument("--no-continuous", action="store_true",
                   help="skip the continuous-signing spotter (RUN/spotter.tflite, used by predict --continuous)")
    p.add_argument("--device", default="auto", choices=["cpu", "gpu", "auto"],
                   help="train on cpu or all local GPUs (mixed precision + MirroredStrategy); auto = GPU if visible")
    add_run_arguments(p)
    p.add_argument("--out", required=True, help="run folder to write")


def run(args: argparse.Namespace) -> int:
    from edgelite.extras import require

    require("tensorflow", "keras")  # before reading any data: one line naming edgelite[train]
    from edgelite.runtime.core.errors import EdgeliteError
    from edgelite.train.common import RunFolderError

    if args.init:
        return _finetune(args)
    if not args.data or not args.fmt or args.finetune_data:
        raise EdgeliteError("train signs needs --data and --format (or --init RUN DATA... to fine-tune a run)")
    from edgelite.train.signs.train import SignTrainConfig, train_signs

    cfg = SignTrainConfig(
        data=args.data, fmt=args.fmt, out=args.out, landmarks=args.landmarks, signers=args.signers,
        holdout=[s.strip() for s in args.holdout_signers.split(",") if s.strip()], folds=args.folds,
        epochs=args.epochs, size=args.size, max_len=args.max_len, batch_size=args.batch_size or 64,
        learning_rate=args.lr or 2e-3, patience=args.patience, augment=not args.no_augment, label_map=args.label_map,
        cache_dir=args.cache, device=args.device, seed=args.seed, verbose=not args.quiet,
        continuous=not args.no_continuous, final=args.final, overwrite=args.overwrite,
        openset_reject=args.openset_reject, background=args.background,
        keep_labels=[c.strip() for c in args.classes.split(",") if c.strip()],
        seeds=args.seeds, ensemble=args.ensemble,
    )
    try:
        rep = train_signs(cfg)
    except RunFolderError as e:
        raise RunFolderError(f"{e} (--overwrite)") from None
    cv = rep["cv"]
    ens, ff = rep["ensemble"], rep["final_fit"]
    shipped = (f"mean of {ens['members']} {'fold models' if ens['kind'] == 'folds' else 'final fits'}" if ens["members"] > 1
               else f"fitted on all {ff['n_train']} sequences" if ff["used"] else "fold 1")
    print(f"CV top-1 {rep['accuracy']:.4f} ({cv['n_seeds']} seed(s) × folds {cv['accuracy_mean']:.4f} ± {cv['accuracy_sd']:.4f})  "
          f"top-5 {rep['top5']:.4f}  macro-F1 {rep['macro_f1']:.4f}  held-out {rep['n_val']}; shipped model: {shipped}"
          f"  → {args.out}")
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from edgelite.train.common import RunFolderError
    from edgelite.train.signs.finetune import SignFinetuneConfig, finetune_signs

    cfg = SignFinetuneConfig(
        init=args.init, data=list(args.finetune_data) + ([args.data] if args.data else []), out=args.out,
        label=args.label, signers=args.signers, new_signs=args.new_signs, train=args.finetune_layers,
        steps=args.steps, batch_size=args.batch_size or 16, learning_rate=args.lr or 5e-4,
        augment=not args.no_augment, eval_data=list(args.eval), seed=args.seed, verbose=not args.quiet,
        overwrite=args.overwrite)
    try:
        rep = finetune_signs(cfg)
    except RunFolderError as e:
        raise RunFolderError(f"{e} (--overwrite)") from None
    ev, ft = rep["evaluation"], rep["fine_tune"]
    print(f"fine-tuned {args.init} on {ft['n_recordings']} recordings (added: {', '.join(ft['labels_added']) or 'none'}) "
          f"in {ft['seconds'] / 60:.1f} min: top-1 {ev['accuracy']:.4f} on {ev['n']} "
          f"{'held-out' if ev['held_out'] else 'fine-tune (seen)'} recordings (base run "
          f"{ev.get('base_accuracy', float('nan')):.4f})  → {args.out}")
    return 0
