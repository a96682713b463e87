"""edgelite.runtime: run edgelite ``.tflite`` models with LiteRT. Imports numpy and LiteRT only.

(MediaPipe/OpenCV are imported lazily, only by the camera path; pyarrow only to read parquet.)
"""

from edgelite.runtime.core.errors import DataError, EdgeliteError, ModelError
from edgelite.runtime.core.model import EdgeModel, load_interpreter

__all__ = ["EdgeModel", "load_interpreter", "EdgeliteError", "DataError", "ModelError"]
