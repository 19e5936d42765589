"""The Spanish message catalogue: every fixed word of a Spanish explanation, one template per shape.

Templates are `str.format` strings with named slots; nothing is built by gluing English-shaped
fragments. Plain Spanish on purpose: short sentences, everyday words, legal terms explained in
the catalogues where they are named. The keys mirror the English renderer's sentence shapes
(`cspolicy.expressions.render`) so a reviewer can compare them side by side.
"""

from __future__ import annotations

import re
from typing import Any

MESSAGES: dict[str, str] = {
    # values
    "value.none": "sin dato",
    "value.yes": "sí",
    "value.no": "no",
    "value.nothing": "nada",
    "value.items": "{count} elemento{s}",
    "missing.label": "«{name}»",
    # whole sentences
    "sentence.not_true": "no es cierto que {sentence}",
    "sentence.unknown": "no se sabe si {sentence}",
    "bool.always": "siempre",
    "bool.never": "nunca",
    "join.and": " y ",
    "join.or": " o ",
    "is": "{subject} es {value}",
    "known.yes": "hay dato de {subject}",
    "known.no": "no hay dato de {subject}",
    "taken.yes": "ya se tomó la acción «{action}»",
    "taken.no": "todavía no se tomó la acción «{action}»",
    "same_month.yes": "{a} es del mismo mes que {b}",
    "same_month.no": "{a} no es del mismo mes que {b}",
    # comparisons, said as true and as false (a false one is still exactly true as written)
    "compare.>": "{left} es mayor que {right}",
    "compare.>=": "{left} es igual o mayor que {right}",
    "compare.<": "{left} es menor que {right}",
    "compare.<=": "{left} es igual o menor que {right}",
    "compare.==": "{left} es {right}",
    "compare.!=": "{left} no es {right}",
    "compare.not.>": "{left} no es mayor que {right}",
    "compare.not.>=": "{left} es menor que {right}",
    "compare.not.<": "{left} no es menor que {right}",
    "compare.not.<=": "{left} es mayor que {right}",
    "compare.not.==": "{left} no es {right}",
    "compare.not.!=": "{left} es {right}",
    "date.>": "{left} es posterior a {right}",
    "date.>=": "{left} es igual o posterior a {right}",
    "date.<": "{left} es anterior a {right}",
    "date.<=": "{left} es igual o anterior a {right}",
    "date.not.>": "{left} no es posterior a {right}",
    "date.not.>=": "{left} es anterior a {right}",
    "date.not.<": "{left} no es anterior a {right}",
    "date.not.<=": "{left} es posterior a {right}",
    # one of several values
    "in.one": "{subject} es {values}",
    "in.many": "{subject} es una de estas opciones: {values}",
    "in.not.1": "{subject} no es {values[0]}",
    "in.not.2": "{subject} no es {values[0]} ni {values[1]}",
    "in.not.many": "{subject} no es ninguna de estas opciones: {values}",
    # lists: is there an item like this?
    "any.owner.yes.f": "{owner} tiene una {noun}",
    "any.owner.yes.m": "{owner} tiene un {noun}",
    "any.owner.no.f": "{owner} no tiene ninguna {noun}",
    "any.owner.no.m": "{owner} no tiene ningún {noun}",
    "any.there.yes.f": "hay una {noun}",
    "any.there.yes.m": "hay un {noun}",
    "any.there.no.f": "no hay ninguna {noun}",
    "any.there.no.m": "no hay ningún {noun}",
    "whose.f": " en la que {sentence}",
    "whose.m": " en el que {sentence}",
    "whose.f.plural": " en las que {sentence}",
    "whose.m.plural": " en los que {sentence}",
    "of.owner": " de {owner}",
    "count": "el número de {items}",
    "aggregate.sum": "la suma de {field} en {collection}",
    "aggregate.latest": "{field} más reciente en {collection}",
    "aggregate.earliest": "{field} más antigua en {collection}",
    "aggregate.largest": "el mayor valor de {field} en {collection}",
    "aggregate.smallest": "el menor valor de {field} en {collection}",
    "aggregate.where": " (solo si {sentence})",
    # arithmetic and other values
    "arith.neg": "menos {value}",
    "arith.add": "{left} más {right}",
    "arith.sub": "{left} menos {right}",
    "arith.mul": "{left} por {right}",
    "arith.div": "{left} dividido entre {right}",
    "times.one": "1 vez {label}",
    "times.many": "{count} veces {label}",
    "conditional": "{then} si {test}; si no, {otherwise}",
    "lookup": "{label} para {key}",
    "call.date_taken": "la fecha de la última acción «{action}»",
    "call.days_since_taken": "los días desde la última acción «{action}»",
    "call.days_before": "{days} día{s} antes de {date}",
    "call.day_after": "el día después de {date}",
    "call.days_after": "{days} días después de {date}",
    "call.coalesce.2": "{first} o, si no se conoce, {second}",
    "call.coalesce.many": "el primer dato conocido entre {values}",
    "call.abs": "el valor absoluto de {a}",
    "call.days_between": "los días desde {a} hasta {b}",
    "call.days_since": "los días desde {a}",
    "call.date": "la fecha {a}",
    "call.other": "{function} de {values}",
    "extreme.2.max": "{a} o {b}, lo que sea mayor",
    "extreme.2.min": "{a} o {b}, lo que sea menor",
    "extreme.2.later": "{a} o {b}, la que sea más tardía",
    "extreme.2.earlier": "{a} o {b}, la que sea más temprana",
    "extreme.many.max": "el mayor de estos valores: {values}",
    "extreme.many.min": "el menor de estos valores: {values}",
    "extreme.many.later": "la más tardía de estas fechas: {values}",
    "extreme.many.earlier": "la más temprana de estas fechas: {values}",
    # explanations of a case (cspolicy.engine.spanish)
    "unknown.because": "{reasons}; por eso, ",
    "unknown.never_taken": "nunca se tomó la acción «{action}»",
    "derived.holds": " — {label}: {sentence}",
    "derived.means": " — aquí, {label} es: {sentence}",
    "derived.means.bare": "{label} es: {sentence}",
    "distance.below": "{amount} por debajo de {target}",
    "distance.above": "{amount} por encima de {target}",
    "distance.days": "a {days} día{s} de {target}",
    "distance.exact.>": "justo en {target}; tiene que ser mayor",
    "distance.exact.<": "justo en {target}; tiene que ser menor",
    "distance.separator": " — ",
    "why.not_apply": "{title}: no corresponde porque {reasons}",
    "why.hold_applies": "{title}: se aplica",
    "why.held": "{title}: corresponde, pero está en pausa por «{hold}»",
    "why.waiting": "{title}: corresponde, pero antes hay que tomar la acción {actions}",
    "why.recommended": "{title}: se recomienda",
    "why.failed": "no se pudo evaluar: {sentence} ({code})",
    # a decision as text (Decision.to_text)
    "text.header": "Caso {case} · fecha del caso: {as_of} · política {policy} {version}",
    "text.nothing": "No se recomienda ninguna acción: ninguna regla se aplica a este caso.",
    "text.action": "✔ {title} [{code}]",
    "text.because": "porque {text}",
    "text.output": "{name}: {value}",
    "text.due": "fecha límite: {date}",
    "text.overdue": "fecha límite: {date} (vencida)",
    "text.law": "ley: {title}{pinpoint} — {url}",
    "text.held": "⏸ {title} [{code}]",
    "text.held_by": "en pausa: {reason}",
    "text.waiting": "… {title} [{code}]",
    "text.waits_for": "espera a que primero se tome la acción {actions}",
}


_PLURAL_WORDS = {
    " es ": " son ",
    "mayor": "mayores",
    "menor": "menores",
    "igual": "iguales",
    "posterior": "posteriores",
    "anterior": "anteriores",
}


def _plural(template: str) -> str:
    for singular, plural in _PLURAL_WORDS.items():
        template = template.replace(singular, plural)
    return template


# A plural subject ("los días desde el último pago") takes a plural verb and adjectives:
# "{left} son mayores que {right}". Each `KEY.pl` is KEY with the words above made plural.
MESSAGES.update(
    {
        f"{key}.pl": _plural(text)
        for key, text in list(MESSAGES.items())
        if key.startswith(("compare.", "date.", "in.")) or key == "is"
    }
)

_CONTRACTIONS = re.compile(r"\b(a|de) el\b")


def contract(text: str) -> str:
    """Spanish contractions once the slots are filled: 'a el' → 'al', 'de el' → 'del'."""
    return _CONTRACTIONS.sub(lambda m: "al" if m.group(1) == "a" else "del", text)


def message(key: str, /, **slots: Any) -> str:
    """The template `key` filled with `slots` (with 'a el', 'de el' contracted)."""
    return contract(MESSAGES[key].format(**slots))
