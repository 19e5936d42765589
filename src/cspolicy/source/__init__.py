"""Policy source: YAML on disk → one located, merged policy document (no evaluation here).

`yamlsource` reads YAML safely with a file:line:col for every node, `documents` are the pydantic
models of policy files, `loading` finds a set's files and versions and merges `extends`.
"""

from cspolicy.source.documents import Citation, Parameter, PolicyFile, Rule, Source
from cspolicy.source.loading import PolicySource, load_source, select_version, version_directories
from cspolicy.source.yamlsource import SourceMap, load_yaml_file, parse_yaml

__all__ = [
    "Citation",
    "Parameter",
    "PolicyFile",
    "PolicySource",
    "Rule",
    "Source",
    "SourceMap",
    "load_source",
    "load_yaml_file",
    "parse_yaml",
    "select_version",
    "version_directories",
]
