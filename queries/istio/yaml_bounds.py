"""YAML read within bounds: nesting depth and alias expansion are measured
on the parser's events (a flat loop, in C when libyaml is present) before
any document is built, so a 600-byte alias bomb, a self-referencing alias or
a deep nesting ends in one line at once, not in gigabytes or a RecursionError.
"""

from __future__ import annotations

from typing import Any

import yaml

# Far beyond any Kubernetes object (a VirtualService nests about 10 deep).
MAX_DEPTH = 64
# Nodes of one file with every alias expanded: 3,000 VirtualServices hold ~150,000.
MAX_NODES = 2_000_000
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


class YamlTooComplex(ValueError):
    """A document nested too deeply or expanding to too many nodes."""


def check_bounds(text: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH, expanding (aliases
    included) past MAX_NODES, or with an alias inside its own anchor;
    yaml.YAMLError for YAML that does not parse."""
    sizes: dict[str, int] = {}  # anchor -> expanded node count
    stack: list[list[Any]] = []  # open collections: [anchor, node count so far]
    total = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, _OPEN):
            stack.append([event.anchor, 1])
            if len(stack) > MAX_DEPTH:
                raise YamlTooComplex(f"nested more than {MAX_DEPTH} deep")
            continue
        if isinstance(event, _CLOSE):
            anchor, size = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in stack):
                raise YamlTooComplex(f"alias *{event.anchor} refers to a node that contains it")
            anchor, size = None, sizes.get(event.anchor, 1)
        else:
            continue
        if anchor:
            sizes[anchor] = size
        if stack:
            stack[-1][1] += size
            size = stack[-1][1]
        else:
            total += size
            size = total
        if size > MAX_NODES:
            raise YamlTooComplex(f"more than {MAX_NODES:,} nodes once its aliases are expanded")


def load_all(text: str) -> list[Any]:
    """Every document of a YAML (or JSON) text, checked by `check_bounds` first."""
    check_bounds(text)
    return list(yaml.load_all(text, Loader=_LOADER))
