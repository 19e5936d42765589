"""Build-time page generation (mkdocs-gen-files): the rule catalogue and references from policies/.

Hand-written guides carry `<!-- cspolicy:NAME -->` markers for parts generated from real cases,
so the examples they explain cannot drift from what the engine does; their filled-in versions
replace them in the built site (the files in docs/ are left untouched).
"""

from __future__ import annotations

from pathlib import Path

import mkdocs_gen_files
from mkdocs.exceptions import PluginError

from cspolicy.diagnostics import CSPolicyError
from cspolicy.docs import generate_pages

ROOT = Path(__file__).resolve().parent.parent

try:
    pages = generate_pages(ROOT)
except CSPolicyError as error:
    # A located message instead of a traceback: the site cannot describe a policy that does not load.
    raise PluginError(f"the docs are generated from the policies, and one does not load:\n{error}") from None

for path, markdown in pages.items():
    with mkdocs_gen_files.open(path, "w") as page:
        page.write(markdown)
