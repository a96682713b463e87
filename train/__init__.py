"""edgelite.train: Keras models, their in-graph preprocessing (TF twins of the runtime's NumPy code), trainers.

Importing it registers edgelite's Keras layers (package ``"edgelite"``), so a run's end-to-end
``model.keras`` (raw input → probabilities) reloads with plain ``keras.saving.load_model(path)``.
Without TensorFlow/Keras installed (``edgelite[train]``) nothing is registered.
"""

import os as _os


def _register_layers() -> None:
    _os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        import keras  # noqa: F401
    except ImportError:  # runtime-only install
        return
    import edgelite.train.accel.model  # noqa: F401
    import edgelite.train.signs.model  # noqa: F401
    import edgelite.train.signs.preprocess  # noqa: F401


_register_layers()
