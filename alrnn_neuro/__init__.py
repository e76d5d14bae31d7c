"""alrnn-neuro: Almost-Linear RNNs for neural recordings of stimulus-selection tasks.

The public API is re-exported here on purpose; see the submodules for details.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alrnn-neuro")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
