"""Datasets: synthetic subspaces, real word embeddings and the gender benchmark."""

from ._base import get_data_home
from ._subspaces import make_subspaces
from ._words import (
    encode_minilm,
    load_glove_gender,
    load_sample_words,
    load_word_embeddings,
)

__all__ = [
    "encode_minilm",
    "get_data_home",
    "load_glove_gender",
    "load_sample_words",
    "load_word_embeddings",
    "make_subspaces",
]
