"""JSON from outside, parsed with a bound on nesting: a 2 KB body of ``[[[[...]]]]`` must be a clear 400, not a
RecursionError deep in the decoder (a 500)."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 64  # deeper than any request of ours needs, far from the interpreter's recursion limit


def depth(value) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def loads(data: str | bytes, max_depth: int = MAX_DEPTH):
    """``json.loads`` that raises ValueError (not RecursionError) for nesting deeper than ``max_depth``."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(f"JSON nested more than {max_depth} deep") from None
    if depth(value) > max_depth:
        raise ValueError(f"JSON nested more than {max_depth} deep")
    return value
