"""Find and hide: Kiali-like expressions over the snapshot document.

    rps > 10    error > 5%    p99 > 500ms    health = failing    circuit = open
    ns = payments and (app = reviews or version = v2)    protocol != http

A condition is `field operator value`; conditions combine with `and` (binding
first), `or` and parentheses. Keywords, fields and values are read without
regard to case. Each field applies to nodes, edges or both:

- traffic figures are the edges': `rps`; `error` (its error ratio, in percent:
  `5%` or `5`); `p50`, `p95`, `p99` (`500ms`, `0.5s`, or milliseconds);
  `circuit` (closed, tripping, open); `protocol` (http, grpc, tcp); `mtls`
  and `cross_cluster` (true, false);
- `health` (healthy, degraded, failing, idle, none) is each element's own;
- identity is the nodes': `ns` (or `namespace`), `app`, `version`, `name`,
  `cluster`, and an edge matches when either end does; `kind` (workload,
  service, unknown, waypoint) is the nodes' only.

A condition on a field an element lacks, or whose value is null, is false
whatever the operator. Numbers compare with =, !=, <, <=, >, >=; names and
states with = and != only.

`find` gives the ids of the matching nodes and edges; `hide` removes the
matching nodes with their edges, the matching edges, and the nodes that are
left without an edge because of it. A bad expression raises `ExpressionError`,
one line naming what is wrong and at which column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dashboard.mesh.circuit import CLOSED, OPEN, TRIPPING
from dashboard.mesh.graph import SERVICE, UNKNOWN_KIND, WAYPOINT, WORKLOAD
from dashboard.mesh.health import DEGRADED, FAILING, HEALTHY, IDLE, NO_HEALTH

# Past these, text is not an expression anyone typed: refuse it rather than recurse.
MAX_LENGTH = 1000
MAX_DEPTH = 32

NUMBER, PERCENT, DURATION, STATE, NAME = "number", "percent", "duration", "state", "name"
ORDERING = ("<", "<=", ">", ">=")
OPERATORS = ("=", "!=", *ORDERING)
DURATION_UNITS = {"ms": 1.0, "s": 1000.0, "": 1.0}
PERCENT_UNITS = {"%": 1.0, "": 1.0}
BOOLEANS = {"true": True, "false": False}


class ExpressionError(ValueError):
    """What is wrong with an expression and where, in one line."""

    def __init__(self, problem: str, column: int) -> None:
        super().__init__(f"{problem} at column {column}")
        self.problem, self.column = problem, column


@dataclass(frozen=True)
class Field:
    """A field of the language: what its values are, and which document key
    it reads on nodes (`node`) and on edges (`edge`; `ends`: either end's node)."""

    name: str
    values: str
    node: str | None = None
    edge: str | None = None
    ends: bool = False
    states: tuple[str, ...] = ()


def _identity(name: str, key: str) -> Field:
    return Field(name, NAME, node=key, ends=True)


FIELDS: dict[str, Field] = {
    "rps": Field("rps", NUMBER, edge="rps"),
    "error": Field("error", PERCENT, edge="error_ratio"),
    "p50": Field("p50", DURATION, edge="p50_ms"),
    "p95": Field("p95", DURATION, edge="p95_ms"),
    "p99": Field("p99", DURATION, edge="p99_ms"),
    "health": Field(
        "health",
        STATE,
        node="health",
        edge="health",
        states=(HEALTHY, DEGRADED, FAILING, IDLE, NO_HEALTH),
    ),
    "circuit": Field("circuit", STATE, edge="circuit", states=(CLOSED, TRIPPING, OPEN)),
    "protocol": Field("protocol", STATE, edge="protocol", states=("http", "grpc", "tcp")),
    "mtls": Field("mtls", STATE, edge="mtls", states=tuple(BOOLEANS)),
    "cross_cluster": Field("cross_cluster", STATE, edge="cross_cluster", states=tuple(BOOLEANS)),
    "ns": _identity("ns", "namespace"),
    "namespace": _identity("namespace", "namespace"),
    "app": _identity("app", "app"),
    "version": _identity("version", "version"),
    "name": _identity("name", "name"),
    "cluster": _identity("cluster", "cluster"),
    "kind": Field("kind", STATE, node="kind", states=(WORKLOAD, SERVICE, UNKNOWN_KIND, WAYPOINT)),
}


# ---- the expression ---------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """`field operator value`; `value` is a float (rps, percent, ms), a bool
    (mtls) or a case-folded name or state."""

    field: Field
    operator: str
    value: float | bool | str

    @property
    def wanted(self) -> float | bool | str:
        """The value as the document holds it (an error ratio, not percent)."""
        return self.value / 100 if self.field.values == PERCENT else self.value

    def __str__(self) -> str:
        return f"{self.field.name} {self.operator} {_value_text(self.field, self.value)}"


@dataclass(frozen=True)
class Either:
    """Any of the parts (`or`)."""

    parts: tuple[Expression, ...]

    def __str__(self) -> str:
        return " or ".join(str(part) for part in self.parts)


@dataclass(frozen=True)
class Both:
    """All of the parts (`and`)."""

    parts: tuple[Expression, ...]

    def __str__(self) -> str:
        return " and ".join(f"({part})" if isinstance(part, Either) else str(part) for part in self.parts)


Expression = Condition | Either | Both


def _value_text(field: Field, value: float | bool | str) -> str:
    """A value as it reads back the same: numbers positional, shortest exact digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    number = format(Decimal(repr(value)), "f")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number + {PERCENT: "%", DURATION: "ms"}.get(field.values, "")


# ---- reading text -------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "operator", "(", ")", "end"
    text: str
    column: int


TOKEN = re.compile(r"(?:(?P<operator>!=|<=|>=|=|<|>)|(?P<paren>[()])|(?P<word>[A-Za-z0-9_.%:/-]+))")
NUMBER_TEXT = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<unit>[A-Za-z%]*)")


def _tokens(text: str) -> list[Token]:
    tokens, position = [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return [*tokens, Token("end", "", position + 1)]
        match = TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(f"unexpected character {text[position]!r}", position + 1)
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append(Token(value if kind == "paren" else kind, value, match.start(kind) + 1))
        position = match.end()


class _Parser:
    """Recursive descent: expression := all ('or' all)*; all := term ('and' term)*;
    term := '(' expression ')' | condition."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def _keyword(self, word: str) -> bool:
        if self.token.kind == "word" and self.token.text.casefold() == word:
            self._advance()
            return True
        return False

    def expression(self) -> Expression:
        parts = [self._all()]
        while self._keyword("or"):
            parts.append(self._all())
        return _joined(Either, parts)

    def _all(self) -> Expression:
        parts = [self._term()]
        while self._keyword("and"):
            parts.append(self._term())
        return _joined(Both, parts)

    def _term(self) -> Expression:
        if self.token.kind != "(":
            return self._condition()
        opening = self._advance()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"more than {MAX_DEPTH} parentheses deep", opening.column)
        inner = self.expression()
        if self.token.kind != ")":
            raise ExpressionError(
                f"expected ')' to close the '(' of column {opening.column}, found {_shown(self.token)}",
                self.token.column,
            )
        self._advance()
        self.depth -= 1
        return inner

    def _condition(self) -> Condition:
        token = self._advance()
        if token.kind != "word" or token.text.casefold() in ("and", "or"):
            raise ExpressionError(
                f"expected a condition such as 'rps > 10', found {_shown(token)}", token.column
            )
        field = FIELDS.get(token.text.casefold())
        if field is None:
            raise ExpressionError(
                f"unknown field {token.text!r} (fields: {', '.join(FIELDS)})",
                token.column,
            )
        operator = self._advance()
        if operator.kind != "operator":
            raise ExpressionError(
                f"expected {', '.join(OPERATORS)} after {token.text!r}, found {_shown(operator)}",
                operator.column,
            )
        if operator.text in ORDERING and field.values not in (NUMBER, PERCENT, DURATION):
            raise ExpressionError(
                f"{field.name!r} compares with = or != only, not {operator.text!r}", operator.column
            )
        written = f"'{token.text} {operator.text}'"
        value = self._advance()
        if value.kind != "word":
            wanted = "a number" if field.values in (NUMBER, PERCENT, DURATION) else "a value"
            raise ExpressionError(f"expected {wanted} after {written}, found {_shown(value)}", value.column)
        return Condition(field, operator.text, _value(field, value, written))


def _joined(kind: type[Either] | type[Both], parts: list[Expression]) -> Expression:
    """One part as itself, several as one `kind` (`a and (b and c)` is `a and b and c`)."""
    if len(parts) == 1:
        return parts[0]
    flat: list[Expression] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, kind) else (part,))
    return kind(tuple(flat))


def _shown(token: Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


def _value(field: Field, token: Token, written: str) -> float | bool | str:
    text = token.text.casefold()
    if field.values == NAME:
        return text
    if field.values == STATE:
        if text not in field.states:
            raise ExpressionError(
                f"{field.name!r} is one of {', '.join(field.states)}, not {token.text!r}", token.column
            )
        return BOOLEANS.get(text, text)
    match = NUMBER_TEXT.fullmatch(text)
    if match is None:
        raise ExpressionError(f"expected a number after {written}, found {token.text!r}", token.column)
    units = {NUMBER: {"": 1.0}, PERCENT: PERCENT_UNITS, DURATION: DURATION_UNITS}[field.values]
    unit = match.group("unit")
    if unit not in units:
        shown = " or ".join(repr(u) for u in units if u) or "no unit"
        raise ExpressionError(f"{field.name!r} takes {shown}, not {unit!r}", token.column)
    number = float(match.group("number")) * units[unit]
    if not math.isfinite(number):
        raise ExpressionError(f"number {token.text!r} is too large", token.column)
    return number


def parse(text: str) -> Expression:
    """The expression the text says, or ExpressionError saying why not."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression is at most {MAX_LENGTH} characters", MAX_LENGTH + 1)
    parser = _Parser(text)
    expression = parser.expression()
    if parser.token.kind != "end":
        found = parser.token
        problem = (
            "')' without '('"
            if found.kind == ")"
            else f"expected 'and', 'or' or the end, found {found.text!r}"
        )
        raise ExpressionError(problem, found.column)
    return expression


# ---- applying it to the snapshot document -----------------------------------------


def _compare(operator: str, actual: Any, wanted: float | bool | str) -> bool:
    if actual is None:
        return False
    if isinstance(wanted, bool) or isinstance(wanted, str):
        if isinstance(actual, str):
            actual = actual.casefold()
        return (actual == wanted) if operator == "=" else (actual != wanted)
    if isinstance(actual, bool) or not isinstance(actual, (int, float)) or math.isnan(actual):
        return False
    return _ORDER[operator](float(actual), wanted)


_ORDER: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _node_matches(condition: Condition, node: Mapping[str, Any]) -> bool:
    key = condition.field.node
    return key is not None and _compare(condition.operator, node.get(key), condition.wanted)


def _edge_matches(
    condition: Condition, edge: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]
) -> bool:
    field = condition.field
    if field.ends:
        return any(
            _node_matches(condition, nodes[end]) for end in (edge["source"], edge["target"]) if end in nodes
        )
    return field.edge is not None and _compare(condition.operator, edge.get(field.edge), condition.wanted)


def _matches(expression: Expression, test: Callable[[Condition], bool]) -> bool:
    if isinstance(expression, Condition):
        return test(expression)
    if isinstance(expression, Either):
        return any(_matches(part, test) for part in expression.parts)
    return all(_matches(part, test) for part in expression.parts)


def find(document: Mapping[str, Any], expression: Expression) -> list[str]:
    """Ids of the nodes and edges the expression matches, sorted."""
    nodes = {node["id"]: node for node in document["nodes"]}
    found = [
        node["id"]
        for node in document["nodes"]
        if _matches(expression, lambda c, n=node: _node_matches(c, n))
    ]
    found += [
        edge["id"]
        for edge in document["edges"]
        if _matches(expression, lambda c, e=edge: _edge_matches(c, e, nodes))
    ]
    return sorted(found)


def hidden(document: Mapping[str, Any], expression: Expression) -> set[str]:
    """Ids of what `hide` removes: the matching nodes and edges, the edges of
    hidden nodes, and the nodes left without an edge by that."""
    matched = set(find(document, expression))
    gone_nodes = {node["id"] for node in document["nodes"] if node["id"] in matched}
    gone_edges = {
        edge["id"]
        for edge in document["edges"]
        if edge["id"] in matched or edge["source"] in gone_nodes or edge["target"] in gone_nodes
    }
    had_edges = {end for edge in document["edges"] for end in (edge["source"], edge["target"])}
    kept_ends = {
        end
        for edge in document["edges"]
        if edge["id"] not in gone_edges
        for end in (edge["source"], edge["target"])
    }
    return gone_nodes | gone_edges | (had_edges - kept_ends)


def hide(document: Mapping[str, Any], expression: Expression) -> dict[str, Any]:
    """The document without what the expression hides (a copy; other keys kept)."""
    gone = hidden(document, expression)
    return {
        **document,
        "nodes": [node for node in document["nodes"] if node["id"] not in gone],
        "edges": [edge for edge in document["edges"] if edge["id"] not in gone],
    }


def apply(
    document: Mapping[str, Any], find_expression: Expression | None, hide_expression: Expression | None
) -> dict[str, Any]:
    """The document as `?find=...&hide=...` ask for it: hidden elements
    removed first, then the added field `found` (ids) when finding."""
    result = hide(document, hide_expression) if hide_expression is not None else dict(document)
    if find_expression is not None:
        result["found"] = find(result, find_expression)
    return result
