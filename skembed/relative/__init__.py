"""Relative representations and latent-space translation across encoders."""

from ._relative import RelativeRepresentation
from ._translator import LatentTranslator

__all__ = ["LatentTranslator", "RelativeRepresentation"]
