"""Sphinx configuration of the flask-friendcb documentation (``make docs``).

The build reads nothing from the network: no intersphinx, and the theme ships its assets.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# autodoc imports the package from this checkout, installed or not (Read the Docs installs it).
sys.path.insert(0, str(ROOT))

from flask_friendcb import __version__  # noqa: E402  (needs the path above)

project = "flask-friendcb"
author = "flask-friendcb contributors"
copyright = "flask-friendcb contributors"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
# The images and JSON files beside the pages are written by `make bench`, `make soak` and
# `make screenshot`; the pages show or link them.
html_extra_path: list[str] = []

# MyST: `#anchor` links to headings, `:::` fences, and `{include}` of the repository's
# CHANGELOG.md and SECURITY.md.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc: each module's own members (not the names it re-exports, documented where they are
# defined), in source order; the type hints go into each description, one line per
# parameter, so that long signatures stay readable.
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_typehints = "description"
autodoc_typehints_description_target = "all"
autodoc_typehints_format = "short"
# Type names the hints use but no page documents (Flask's, the standard library's) stay plain
# text instead of failing the build (`-n` would fail on each): intersphinx, which would link
# them, needs the network.
nitpicky = False

html_theme = "furo"
html_title = f"flask-friendcb {release}"
html_static_path: list[str] = []
