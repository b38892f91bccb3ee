"""skembed: scikit-learn estimators for the geometry of embeddings."""

__version__ = "0.1.0.dev0"

from .erasure import LinearConceptEraser  # noqa: E402
from .reduction import NNPreservingReducer  # noqa: E402

__all__ = ["LinearConceptEraser", "NNPreservingReducer", "__version__"]
