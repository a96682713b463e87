"""Flags shared by ``edgelite train accel`` and ``edgelite train signs``: what is shipped and how the run is written."""

from __future__ import annotations

import argparse


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """``--no-final``, ``--openset-reject``, ``--overwrite``, ``--seed``, ``--seeds``, ``--ensemble``, ``--quiet``."""
    p.add_argument("--no-final", dest="final", action="store_false",
                   help="ship fold 1's model instead of a final fit on all the data")
    p.add_argument("--openset-reject", type=float, default=0.05,
                   help="open set: share of correct out-of-fold predictions the 'unknown' threshold may reject (default 0.05)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder (emptied first)")
    p.add_argument("--seed", type=int, default=0, help="random seed for splits, initialisation and augmentation (default 0)")
    p.add_argument("--seeds", type=int, default=1,
                   help="cross-validate with N seeds (--seed … --seed+N-1); report.json gives mean ± sd over seeds × folds (default 1)")
    p.add_argument("--ensemble", choices=["folds", "seeds", "none"], default=None,
                   help="shipped model as one graph: seeds = the mean of every seed's final fit (default with --seeds > 1), "
                        "folds = the mean of the cross-validation fold models (no extra training), "
                        "none = one final fit (default with one seed; fold 1's model with --no-final)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
