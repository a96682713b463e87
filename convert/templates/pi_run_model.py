#!/usr/bin/env python3
"""Classify recordings with $model_file through the edgelite runtime (install.sh installs it).

    python3 run_model.py FILE [FILE ...]     # same as: edgelite predict $model_file FILE ...

Task '$task', input '$input_name' $input_shape, output '$output_name' ($output_kind), signature '$signature'.
"""
import os
import sys

from edgelite.cli import main
from edgelite.runtime import EdgeModel

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "$model_file")

if __name__ == "__main__":
    model = EdgeModel.open(MODEL)  # the runtime API: model.predict(array) -> probabilities per label
    print(f"{model.backend}: {len(model.labels)} labels {model.labels[:5]}", file=sys.stderr)
    sys.exit(main(["predict", MODEL, *sys.argv[1:]]) if len(sys.argv) > 1 else 0)
