"""skembed: scikit-learn estimators for the geometry of embeddings."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
