"""Sphinx configuration for skembed's documentation."""

import skembed

project = "skembed"
author = "the skembed developers"
copyright = "2026, the skembed developers"
release = skembed.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
# Class pages list the public methods only (the default template also lists
# dunders and private helpers).
templates_path = ["_templates"]
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

exclude_patterns = ["_build", "examples", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_static_path = []
html_theme_options = {"navigation_with_keys": False}

# Offline builds: cross-references to these projects are written as plain
# :class:/:func: roles and resolve without fetching inventories.
intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

# Roles that point to scikit-learn and numpy objects cannot resolve offline.
nitpicky = False


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    # scikit-learn adds set_{method}_request to every estimator class; their
    # docstrings point into scikit-learn's own documentation.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
