"""skembed: scikit-learn estimators for the geometry of embeddings."""

__version__ = "0.1.0.dev0"

from .cluster import SubspaceClusterer  # noqa: E402
from .erasure import DensityMatchingEraser, LinearConceptEraser, NonlinearConceptEraser  # noqa: E402
from .reduction import NNPreservingReducer  # noqa: E402
from .relative import LatentTranslator, RelativeRepresentation  # noqa: E402
from .sampling import CoresetEstimator, SensitivitySampler  # noqa: E402

__all__ = [
    "CoresetEstimator",
    "DensityMatchingEraser",
    "LatentTranslator",
    "LinearConceptEraser",
    "NNPreservingReducer",
    "NonlinearConceptEraser",
    "RelativeRepresentation",
    "SensitivitySampler",
    "SubspaceClusterer",
    "__version__",
]
