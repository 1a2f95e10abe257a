"""Limits on what a YAML or JSON document may make a reader do, checked before anything walks it.

Two hostile shapes are cheap to write and ruinous to read:

- **deep nesting** (``[[[[...]]]]`` thousands deep): every recursive walker (JSON parsing, schema parsing,
  validation) ends in a ``RecursionError``; :func:`nesting_problem` measures depth without recursion;
- **alias bombs** in YAML (``a1: [*a0, *a0, ...]``, nine levels of ten): the loaded graph is small because
  aliases share objects, but anything that walks or prints it expands it to billions of nodes;
  :func:`size_problem` counts the nodes the document stands for (each shared object counted as often as it is
  reached, worked out once per object), so a bomb is refused before it is expanded.

Both return a message (``None`` when the document is within the limits) for the caller to attach to the file.
"""

from __future__ import annotations

from typing import Any

MAX_NESTING = 100
"""How deep lists and mappings may nest: Avro schemas and configs written by people stay far below."""

MAX_NODES = 1_000_000
"""How many values a document may stand for once its YAML aliases are expanded."""


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How deep ``value``'s lists and dicts nest (a scalar is 0), counting no further than ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    reached: dict[int, int] = {}
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            depth += 1
            if depth > limit:
                return depth  # also ends a cycle (a YAML alias inside itself)
            deepest = max(deepest, depth)
            if reached.get(id(item), 0) >= depth:
                continue  # a shared object (a YAML alias) already walked from at least this deep
            reached[id(item)] = depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def too_deep(limit: int = MAX_NESTING) -> str:
    """The message for a document nested deeper than ``limit``."""
    return f"nested more than {limit} levels deep; flatten it (the limit protects every reader from exhaustion)"


def nesting_problem(value: Any, limit: int = MAX_NESTING) -> str | None:
    """A message if ``value`` nests deeper than ``limit``, else ``None``."""
    return too_deep(limit) if nesting_depth(value, limit) > limit else None


def expanded_size(value: Any, limit: int = MAX_NODES) -> int:
    """How many values ``value`` stands for with every shared object counted each time it is reached.

    Each distinct object is sized once (memoised by identity), so a bomb of a billion nodes costs as many steps
    as it has distinct objects. Sizes stop growing past ``limit + 1``.
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, children_done = stack.pop()
        if not isinstance(item, dict | list | tuple) or id(item) in sizes:
            continue
        children = list(item.values()) if isinstance(item, dict) else list(item)
        if not children_done:
            if id(item) in open_:
                return limit + 1  # an object inside itself (a recursive alias) stands for infinitely many
            open_.add(id(item))
            stack.append((item, True))
            stack.extend((child, False) for child in children if isinstance(child, dict | list | tuple))
            continue
        total = 1 + len(children)
        for child in children:
            if isinstance(child, dict | list | tuple):
                total += sizes.get(id(child), 0) - 1
        sizes[id(item)] = min(total, limit + 1)
        open_.discard(id(item))
    return sizes.get(id(value), 1)


def size_problem(value: Any, limit: int = MAX_NODES) -> str | None:
    """A message if ``value`` expands (YAML aliases followed) to more than ``limit`` values, else ``None``."""
    if expanded_size(value, limit) > limit:
        return (
            f"expands to more than {limit} values once its YAML aliases (*name) are followed; "
            "write the values out, or use fewer aliases (an alias bomb is refused)"
        )
    return None


QUICK_NODES = 50_000
"""How many values :func:`document_problem`'s plain walk visits before leaving the document to the exact walks."""


def within_limits(value: Any, depth_limit: int = MAX_NESTING, nodes: int = QUICK_NODES) -> bool:
    """True if ``value`` nests at most ``depth_limit`` deep and stands for at most ``nodes`` values; False when
    it does not or this walk cannot tell (then :func:`nesting_problem` and :func:`size_problem` decide).

    One breadth-first walk that follows every reference as often as it is reached, exactly as the expanded
    count and the depth are defined, so nothing to remember per object: a document as people write it (a tree)
    costs one visit per value. Shared objects are simply visited again, and a bomb or a cycle spends the
    budget of ``nodes`` visits and ends the walk (never more than that many values held); the exact walks,
    which size each shared object once, then give the answer and its message.
    """
    kinds = (dict, list, tuple)
    level = [value]
    count = 1
    depth = 0
    while True:
        containers = [item for item in level if isinstance(item, kinds)]
        if not containers:
            return True
        depth += 1
        if depth > depth_limit:
            return False
        level = []
        for item in containers:
            level.extend(item.values() if isinstance(item, dict) else item)
        count += len(level)
        if count > nodes:
            return False


def document_problem(value: Any) -> str | None:
    """The first limit a loaded YAML/JSON document breaks (nesting, then expansion), or ``None``.

    A document within :func:`within_limits` (every ordinary one) is answered by that single plain walk; any
    other is measured by the exact walks, which give the message.
    """
    if within_limits(value):
        return None
    return nesting_problem(value) or size_problem(value)
