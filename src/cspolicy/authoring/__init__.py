"""The policy author's tools: YAML tests, coverage, the pytest plugin, JSON Schemas, diff."""

from cspolicy.authoring.diff import PolicyDiff, diff_policies
from cspolicy.authoring.jsonschema import json_schema, write_schemas
from cspolicy.authoring.testing import TestFile, load_tests, run_tests

__all__ = [
    "PolicyDiff",
    "TestFile",
    "diff_policies",
    "json_schema",
    "load_tests",
    "run_tests",
    "write_schemas",
]
