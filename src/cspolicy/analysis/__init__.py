"""Static analysis of a policy alone (no case): checks, satisfiability and diagrams."""

from cspolicy.analysis.checks import analyse, check_policy
from cspolicy.analysis.diagrams import (
    dot_graph,
    dot_ladder,
    dot_neighbourhood,
    mermaid_graph,
    mermaid_ladder,
    mermaid_neighbourhood,
)

__all__ = [
    "analyse",
    "check_policy",
    "dot_graph",
    "dot_ladder",
    "dot_neighbourhood",
    "mermaid_graph",
    "mermaid_ladder",
    "mermaid_neighbourhood",
]
