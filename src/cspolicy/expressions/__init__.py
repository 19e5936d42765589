"""The restricted expression language: parse (ast), check (types), compile (closures), render (words)."""

from cspolicy.expressions.checker import CheckError, Scope, check
from cspolicy.expressions.closures import (
    Context,
    DivisionByZero,
    ExpressionFailure,
    MissingKey,
    compile_expression,
)
from cspolicy.expressions.nodes import Node
from cspolicy.expressions.parser import FUNCTIONS, ExpressionSyntaxError, parse_expression
from cspolicy.expressions.render import Labels, Renderer
from cspolicy.expressions.types import FieldSpec, Type

__all__ = [
    "FUNCTIONS",
    "CheckError",
    "Context",
    "DivisionByZero",
    "ExpressionFailure",
    "ExpressionSyntaxError",
    "FieldSpec",
    "Labels",
    "MissingKey",
    "Node",
    "Renderer",
    "Scope",
    "Type",
    "check",
    "compile_expression",
    "parse_expression",
]
