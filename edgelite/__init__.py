"""edgelite: sensor classifiers from training to the device.

Subpackages: ``edgelite.train`` (TensorFlow) → ``edgelite.convert`` → ``edgelite.runtime`` (numpy + LiteRT).
"""

from edgelite._version import __version__

__all__ = ["__version__"]
