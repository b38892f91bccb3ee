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
# Class pages list the public methods, inherited ones included (the default
# template also lists dunders and private helpers).
templates_path = ["_templates"]
autodoc_default_options = {"members": True, "inherited-members": True}
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

# Every cross-reference must resolve (CI builds with warnings as errors),
# except those into other projects, whose inventories an offline build
# cannot fetch.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|scipy|sklearn|pandas|dask|distributed|joblib|cvxpy)(\..*)?"),
]


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    # scikit-learn adds set_{method}_request to every estimator class; their
    # docstrings point into scikit-learn's own documentation.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


# Labels of scikit-learn's own documentation, used by the docstrings of the
# methods skembed's estimators inherit (set_output, get_metadata_routing):
# shown as plain text offline.
_SKLEARN_LABELS = {
    "metadata_routing",
    "df_output_transform",
    "sphx_glr_auto_examples_miscellaneous_plot_set_output.py",
}


def _unlink_sklearn_labels(app, env, node, contnode):
    if node.get("refdomain") == "std" and node.get("reftarget") in _SKLEARN_LABELS:
        return contnode
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
    app.connect("missing-reference", _unlink_sklearn_labels)
