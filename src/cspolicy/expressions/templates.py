"""Sentence templates: an expression rendered once with slots, filled with each case's values.

Filling a template is much cheaper than rendering the expression again, and explanations are
built for every case of a caseload; the renderer itself is `cspolicy.expressions.render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cspolicy.expressions.nodes import Node
from cspolicy.expressions.render import Labels, Renderer, format_value
from cspolicy.expressions.types import Type

_SLOT = "\x00"


class Template:
    """A sentence rendered once per expression with slots for the case's values; filling it
    is much cheaper than rendering (explanations are built for every case of a caseload).

    `computed` are parts whose value is computed for the case (a product, a count): the filler
    puts their values in `values` under their key first."""

    def __init__(
        self,
        parts: list[str],
        slots: list[tuple[str, Type]],
        absent: Mapping[str, str] | None = None,
        computed: list[tuple[str, Node]] | None = None,
    ) -> None:
        self.parts = parts
        self.slots = slots
        self.absent = absent or {}  # path → what a missing value means, in words
        self.computed = computed or []
        # Each slot's path and type with the text that follows it (and its key in `shown`), as `fill` reads them.
        self._slots = [(p, t, text, (p, t)) for (p, t), text in zip(slots, parts[1:], strict=True)]

    def fill(self, values: Mapping[str, Any], shown: dict[tuple[str, Type], str] | None = None) -> str:
        """The sentence with `values` in its slots. `shown` (path and type → the value as shown)
        keeps what one case's sentences show, when every value of a path is the same (one case)."""
        pieces = [self.parts[0]]
        absent = self.absent
        for path, type_, text, key in self._slots:
            value = values.get(path)
            if value is None and path in absent:
                pieces.append(absent[path])
            elif shown is None:
                pieces.append(format_value(value, type_))
            else:
                said = shown.get(key)
                if said is None:
                    said = shown[key] = format_value(value, type_)
                pieces.append(said)
            pieces.append(text)
        return "".join(pieces)


class _SlotRenderer(Renderer):
    def __init__(self, labels: Labels, paths: list[str], truths: Mapping[int, Any] | None = None) -> None:
        super().__init__(labels, dict.fromkeys(paths), truths=truths)
        self.slots: list[tuple[str, Type]] = []
        self.absent: dict[str, str] = {}
        self.computed_parts: list[tuple[str, Node]] = []

    def show(self, path: str, value: Any, type_: Type, absent: str | None = None) -> str:
        self.slots.append((path, type_))
        if absent is not None:
            self.absent[path] = absent
        return _SLOT

    def computed(self, node: Node) -> str:
        key = f"={id(node)}"
        self.computed_parts.append((key, node))
        self.slots.append((key, node.type))
        return f" ({_SLOT})"


def template(
    node: Node,
    labels: Labels,
    paths: list[str],
    truth: bool | None = True,
    truths: Mapping[int, Any] | None = None,
) -> Template:
    """Render `node` once (as true, false or unknown; `truths` of its parts as in `Renderer`),
    leaving a slot wherever the value of one of `paths` (or of a computed part) goes."""
    renderer = _SlotRenderer(labels, paths, truths)
    text = renderer.render(node, truth)
    return Template(text.split(_SLOT), renderer.slots, renderer.absent, renderer.computed_parts)
