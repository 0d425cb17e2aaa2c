"""How deeply a JSON text nests, found without parsing it.

``json.loads`` recurses once per nested array or object and, some thousand levels down, raises
``RecursionError`` (a 500 if it escapes); a query string of 8,000 characters holds 4,000 levels.
Measuring the depth first with a linear scan lets the caller refuse such input with a 4xx before
any recursion happens. Hand-written because no JSON library in use exposes a depth limit.
"""

from __future__ import annotations

MAX_JSON_DEPTH = 32


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not
    count). Malformed JSON gets a number too; the parser rejects it afterwards."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
