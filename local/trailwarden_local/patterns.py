"""EventBridge event-pattern matching with the semantics AWS documents.

Why this module exists: the local replay runs ~500,000 CloudTrail records through
the app's EventBridge rules, and the result has to agree with what EventBridge
would route. moto's matcher does not (it treats ``0`` and ``false`` as equal, for
one), so we implement the documented rules ourselves. A pattern is validated and
parsed once by :func:`compile_pattern` into nested closures; matching an event
does no parsing at all.

Sources (Amazon EventBridge User Guide page titles):

* "Event pattern syntax" / "Creating Amazon EventBridge event patterns"
* "Matching on multiple field values" (formerly "Arrays in Amazon EventBridge
  event patterns")
* "Matching events on null values and empty strings in Amazon EventBridge"
* "Content filtering in Amazon EventBridge event patterns" and
  "Comparison operators for use in event patterns in Amazon EventBridge"

Where the guide is silent or loose we chose, following aws/event-ruler (the
engine behind EventBridge) where it says more:

* Exact numbers: the guide compares their text (300, 300.0, 3.0e2 differ); a
  decoded event keeps only int vs float, so 300 != 300.0 but 300.0 == 3.0e2.
  ``numeric`` and the range operators compare as numbers.
* Arrays of objects: all fields of a nested pattern must match within one
  element (Ruler README, "JSON Array Matching").
* ``anything-but`` needs a leaf value: an absent field, an object or ``[]`` never
  matches; an array matches if any element is not excluded (the SNS "Numeric
  value matching" page, same engine, says so explicitly).
* ``exists``: ``null`` is a present leaf; ``false`` means no leaf value at that
  path anywhere in the event JSON (an object there counts as absent).
* Malformed or merely odd patterns (empty objects, an empty numeric range, a
  cidr without ``/len``) raise :class:`PatternError` instead of never matching.

Events are expected to be JSON-decoded (``dict``/``list``/scalars).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final

__all__ = ["PatternError", "compile_pattern", "compile_pattern_given", "matches"]

# A compiled object-level matcher: (object at this level, whole event) -> bool.
# The whole event is needed because "exists": false asks about the event JSON.
_NodeMatcher = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
# A test of one scalar leaf value from the event.
_ValueTest = Callable[[Any], bool]

_MISSING: Final = object()
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_OR: Final = "$or"
_ARRAY_TYPES: Final = (list, tuple)
# Exact types of JSON scalars: each is one leaf value (subclasses take the general path).
_SCALAR_TYPES: Final = frozenset({str, int, float, bool, type(None)})
_LOWER_BOUNDS: Final = {">": False, ">=": True}  # operator -> inclusive
_UPPER_BOUNDS: Final = {"<": False, "<=": True}


class PatternError(ValueError):
    """The pattern is malformed or uses an operator we do not support."""


def compile_pattern(pattern: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """Validate once, return a fast predicate over an event (dict)."""
    matcher = _compile_object(pattern, ())

    def predicate(event: Mapping[str, Any]) -> bool:
        return matcher(event, event)

    return predicate


def compile_pattern_given(
    pattern: Mapping[str, Any], known: Mapping[tuple[str, ...], str], *, validated: bool = False
) -> Callable[[Mapping[str, Any]], bool] | bool:
    """``compile_pattern(pattern)`` for the events whose value at each path of ``known``
    is that string (so every object on the way is an object): the pattern's fields at
    those paths are decided now and left out of the predicate. True or False when that
    decides the whole pattern.

    Replay offers each CloudTrail call to the few rules that name it, and every rule
    pins ``source``, ``detail-type``, ``eventSource`` and ``eventName``: a predicate per
    call checks only the rest (the error code, the caller, the request). ``validated``:
    the caller compiled the whole pattern already (else it is compiled here first).
    """
    if not validated:
        compile_pattern(pattern)  # validated as a whole, as EventBridge does
    try:
        reduced = _given(pattern, (), known)
    except _Irreducible:
        return compile_pattern(pattern)
    if isinstance(reduced, bool):
        return reduced
    return compile_pattern(reduced)


class _Irreducible(Exception):  # noqa: N818 - internal signal
    """A reduced ``$or`` left one branch whose fields collide with its parent's."""


def _given(
    pattern: Mapping[str, Any], path: tuple[str, ...], known: Mapping[tuple[str, ...], str]
) -> dict[str, Any] | bool:
    """The pattern object at ``path`` with the known fields decided: the fields left
    (True: none, every field matched; False: a known field does not match)."""
    out: dict[str, Any] = {}
    for key, sub in pattern.items():
        where = (*path, key)
        if key == _OR:
            branches: list[dict[str, Any]] = []
            for branch in sub:
                reduced = _given(branch, path, known)
                if reduced is True:  # this branch holds whatever the rest is
                    branches = []
                    break
                if reduced is not False:
                    branches.append(reduced)
            else:
                if not branches:
                    return False
            if len(branches) == 1:  # AND its fields into this object
                if set(branches[0]) & (set(pattern) | set(out)):
                    raise _Irreducible
                out.update(branches[0])
            elif branches:
                out[key] = branches
        elif isinstance(sub, Mapping):
            if not any(len(p) > len(where) and p[: len(where)] == where for p in known):
                out[key] = sub
                continue
            reduced = _given(sub, where, known)  # an object known to be there
            if reduced is False:
                return False
            if reduced is not True:
                out[key] = reduced
        elif where in known:
            if not _compile_leaf(key, sub, where)({key: known[where]}, _EMPTY):
                return False
        else:
            out[key] = sub
    return out or True


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Convenience: compile_pattern(pattern)(event)."""
    return compile_pattern(pattern)(event)


# --- event traversal --------------------------------------------------------


def _leaves(value: Any) -> Iterator[Any]:
    """Scalar values at a position: arrays are flattened, objects are not leaves."""
    if isinstance(value, _ARRAY_TYPES):
        for item in value:
            yield from _leaves(item)
    elif not isinstance(value, dict):
        yield value


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """Objects at a position; arrays of objects (nested too) are flattened."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, _ARRAY_TYPES):
        return [obj for item in value for obj in _objects(item)]
    return []


def _has_leaf_at(event: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether the event JSON has any leaf value at ``path`` (through any array)."""
    # Objects all the way (the common case): one lookup per key, no lists built.
    node: Any = event
    last = path[-1]
    for key in path[:-1]:
        if type(node) is not dict:
            break  # an array, another Mapping or nothing on the way: the general walk
        node = node.get(key, _MISSING)
    else:
        if type(node) is dict:
            value = node.get(last, _MISSING)
            if value is _MISSING or type(value) is dict:  # an object is not a leaf
                return False
            if type(value) in _SCALAR_TYPES:
                return True
        elif node is _MISSING or type(node) in _SCALAR_TYPES:
            return False
    return _has_leaf_through_arrays(event, path)


def _has_leaf_through_arrays(event: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """_has_leaf_at by walking every object at each step (arrays flattened)."""
    objects: list[Mapping[str, Any]] = [event]
    for key in path[:-1]:
        objects = [found for obj in objects if key in obj for found in _objects(obj[key])]
    last = path[-1]
    return any(True for obj in objects if last in obj for _ in _leaves(obj[last]))


# --- pattern compilation ----------------------------------------------------


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) or "<pattern>"


def _compile_object(pattern: Any, path: tuple[str, ...]) -> _NodeMatcher:
    """All fields of a pattern object must match (AND)."""
    where = _where(path)
    if not isinstance(pattern, Mapping):
        raise PatternError(f"{where}: expected a pattern object, got {type(pattern).__name__}")
    if not pattern:
        raise PatternError(f"{where}: a pattern object must name at least one field")
    ranked: list[tuple[int, _NodeMatcher]] = []
    for key, sub in pattern.items():
        if not isinstance(key, str):
            raise PatternError(f"{where}: field names must be strings, got {key!r}")
        if key == _OR:
            ranked.append((2, _compile_or(sub, path)))
        elif isinstance(sub, Mapping):
            ranked.append((1, _compile_nested(key, sub, (*path, key))))
        else:
            ranked.append((0, _compile_leaf(key, sub, (*path, key))))
    # Order only affects speed: cheap leaf checks first, $or last.
    return _chain([matcher for _, matcher in sorted(ranked, key=lambda item: item[0])], all_=True)


def _compile_or(branches: Any, path: tuple[str, ...]) -> _NodeMatcher:
    """``$or``: any branch (a pattern object at the same level) matches."""
    if not isinstance(branches, list) or len(branches) < 2:
        raise PatternError(f"{_where(path)}: $or takes an array of at least two pattern objects")
    return _chain([_compile_object(branch, path) for branch in branches], all_=False)


def _chain(matchers: list[_NodeMatcher], *, all_: bool) -> _NodeMatcher:
    """AND (``all_``) or OR of matchers as nested closures: ~2x faster than all()/any()."""
    first, rest = matchers[0], matchers[1:]
    if not rest:
        return first
    then = _chain(rest, all_=all_)
    if all_:
        return lambda node, event: first(node, event) and then(node, event)
    return lambda node, event: first(node, event) or then(node, event)


def _compile_nested(key: str, sub: Mapping[str, Any], path: tuple[str, ...]) -> _NodeMatcher:
    """A nested pattern object; an array of objects matches if any element does."""
    child = _compile_object(sub, path)

    def nested(node: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
        value = node.get(key, _MISSING)
        if type(value) is dict:
            return child(value, event)
        objects = _objects(value)
        if not objects:
            # Absent or scalar: nothing below exists, so only "exists": false can hold.
            return child(_EMPTY, event)
        return any(child(obj, event) for obj in objects)

    return nested


def _compile_leaf(key: str, alternatives: Any, path: tuple[str, ...]) -> _NodeMatcher:
    """A leaf array: matches if ANY alternative matches ANY leaf value of the field."""
    where = _where(path)
    if not isinstance(alternatives, list):
        raise PatternError(f"{where}: match values must be a JSON array, got {alternatives!r}")
    if not alternatives:
        raise PatternError(f"{where}: the array of match values is empty")
    exact: set[tuple[type, Any]] = set()
    tests: list[_ValueTest] = []
    want_present = want_absent = False
    for alternative in alternatives:
        if isinstance(alternative, Mapping):
            name, operand = _single_operator(alternative, where)
            if name == "exists":
                if not isinstance(operand, bool):
                    raise PatternError(f"{where}: exists takes true or false, got {operand!r}")
                want_present |= operand
                want_absent |= not operand
            else:
                tests.append(_compile_operator(name, operand, where))
        elif alternative is None or isinstance(alternative, str | int | float):
            exact.add((type(alternative), alternative))
        else:
            raise PatternError(f"{where}: unsupported match value {alternative!r}")
    return _leaf_matcher(
        key,
        path,
        exact=frozenset(exact),
        tests=tuple(tests),
        want_present=want_present,
        want_absent=want_absent,
    )


def _leaf_matcher(
    key: str,
    path: tuple[str, ...],
    *,
    exact: frozenset[tuple[type, Any]],
    tests: tuple[_ValueTest, ...],
    want_present: bool,
    want_absent: bool,
) -> _NodeMatcher:
    # Exact values are keyed by (type, value): 0 != false, "5" != 5, 300 != 300.0.
    if not tests and not want_present and not want_absent:
        exact_strings = frozenset(value for kind, value in exact if kind is str)

        def exact_only(node: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
            value = node.get(key, _MISSING)
            if type(value) is str:  # the common case: one string field
                return value in exact_strings
            if value is _MISSING:
                return False
            return any((type(leaf), leaf) in exact for leaf in _leaves(value))

        return exact_only

    def leaf(node: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
        value = node.get(key, _MISSING)
        if type(value) in _SCALAR_TYPES:  # one leaf value (the common case)
            if (type(value), value) in exact:
                return True
            for test in tests:
                if test(value):
                    return True
            return want_present
        if value is not _MISSING:
            found = False
            for item in _leaves(value):
                found = True
                if (type(item), item) in exact:
                    return True
                for test in tests:
                    if test(item):
                        return True
            if found:
                return want_present
        # No leaf value here; "exists": false asks whether the event has one anywhere.
        return want_absent and not _has_leaf_at(event, path)

    return leaf


def _single_operator(expression: Mapping[str, Any], where: str) -> tuple[str, Any]:
    if len(expression) != 1:
        raise PatternError(f"{where}: an operator object must have exactly one key")
    ((name, operand),) = expression.items()
    if not isinstance(name, str):
        raise PatternError(f"{where}: operator names must be strings, got {name!r}")
    return name, operand


def _compile_operator(name: str, operand: Any, where: str) -> _ValueTest:
    if name in ("prefix", "suffix"):
        text, ignore_case = _affix_operand(name, operand, where)
        return _affix_test(name == "prefix", text, ignore_case)
    if name == "equals-ignore-case":
        folded = _require_str(name, operand, where).lower()
        return lambda value: isinstance(value, str) and value.lower() == folded
    if name == "wildcard":
        text = _require_str("wildcard", operand, where)
        if text.endswith("*") and text.find("*") == len(text) - 1 and "\\" not in text:
            # One trailing '*' (an ARN prefix, the template's usual case): a prefix test,
            # what the regular expression would answer, without compiling one.
            head = text[:-1]
            return lambda value: isinstance(value, str) and value.startswith(head)
        fullmatch = _wildcard_matcher(operand, where)
        return lambda value: isinstance(value, str) and fullmatch(value) is not None
    if name == "numeric":
        return _numeric_test(operand, where)
    if name == "cidr":
        return _cidr_test(operand, where)
    if name == "anything-but":
        excluded = _anything_but_excluded(operand, where)
        # Called only for leaf values that exist: an absent field never matches.
        return lambda value: not excluded(value)
    raise PatternError(f"{where}: unsupported operator {name!r}")


def _require_str(name: str, operand: Any, where: str) -> str:
    if not isinstance(operand, str):
        raise PatternError(f"{where}: {name} takes a string, got {operand!r}")
    return operand


def _affix_operand(name: str, operand: Any, where: str) -> tuple[str, bool]:
    """``"x"`` or ``{"equals-ignore-case": "x"}`` -> (text, ignore_case)."""
    if isinstance(operand, str):
        return operand, False
    if isinstance(operand, Mapping) and list(operand) == ["equals-ignore-case"]:
        return _require_str(
            f"{name} equals-ignore-case", operand["equals-ignore-case"], where
        ), True
    raise PatternError(f"{where}: {name} takes a string or {{'equals-ignore-case': string}}")


def _affix_test(is_prefix: bool, text: str, ignore_case: bool) -> _ValueTest:
    if ignore_case:
        folded = text.lower()
        if is_prefix:
            return lambda value: isinstance(value, str) and value.lower().startswith(folded)
        return lambda value: isinstance(value, str) and value.lower().endswith(folded)
    if is_prefix:
        return lambda value: isinstance(value, str) and value.startswith(text)
    return lambda value: isinstance(value, str) and value.endswith(text)


def _wildcard_matcher(operand: Any, where: str) -> Callable[[str], re.Match[str] | None]:
    """``*`` is any run of characters; ``\\*`` and ``\\\\`` are literal; ``**`` is illegal."""
    text = _require_str("wildcard", operand, where)
    parts: list[str] = []
    index, previous_star = 0, False
    while index < len(text):
        char = text[index]
        if char == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped not in ("*", "\\"):
                raise PatternError(f"{where}: in a wildcard, '\\' may only escape '*' or '\\'")
            parts.append(re.escape(escaped))
            index, previous_star = index + 2, False
            continue
        if char == "*":
            if previous_star:
                raise PatternError(f"{where}: consecutive wildcard characters are not supported")
            parts.append(".*")
        else:
            parts.append(re.escape(char))
        index, previous_star = index + 1, char == "*"
    return re.compile("".join(parts), re.DOTALL).fullmatch


def _is_pattern_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric_test(operand: Any, where: str) -> _ValueTest:
    """``["=", n]`` or up to one lower and one upper bound, compared as numbers."""
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise PatternError(f"{where}: numeric takes [op, number] or [op, number, op, number]")
    lower: tuple[float, bool] | None = None
    upper: tuple[float, bool] | None = None
    for op, bound in zip(operand[::2], operand[1::2], strict=True):
        if not _is_pattern_number(bound):
            raise PatternError(f"{where}: numeric bounds must be numbers, got {bound!r}")
        if op == "=" and len(operand) == 2:
            lower = upper = (bound, True)
        elif op in _LOWER_BOUNDS and lower is None:
            lower = (bound, _LOWER_BOUNDS[op])
        elif op in _UPPER_BOUNDS and upper is None:
            upper = (bound, _UPPER_BOUNDS[op])
        else:
            raise PatternError(f"{where}: invalid numeric operator sequence {operand!r}")
    if lower and upper:
        touching = lower[0] == upper[0] and not (lower[1] and upper[1])
        if lower[0] > upper[0] or touching:  # docs are silent; an empty range is a bug
            raise PatternError(f"{where}: numeric range {operand!r} can never match")
    low, low_inclusive = lower or (None, False)
    high, high_inclusive = upper or (None, False)

    def numeric(value: Any) -> bool:
        if type(value) is not int and type(value) is not float:  # bool is not a number
            return False
        if low is not None and (value < low or (value == low and not low_inclusive)):
            return False
        return high is None or value < high or (value == high and high_inclusive)

    return numeric


def _cidr_test(operand: Any, where: str) -> _ValueTest:
    text = _require_str("cidr", operand, where)
    if "/" not in text:
        raise PatternError(f"{where}: cidr takes a network in CIDR notation, got {text!r}")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise PatternError(f"{where}: invalid cidr {text!r}: {exc}") from exc

    def in_network(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:  # e.g. CloudTrail's "AWS Internal"
            return False
        return address in network  # False across IPv4/IPv6

    return in_network


def _anything_but_excluded(operand: Any, where: str) -> _ValueTest:
    """The set anything-but excludes, as a positive test on one leaf value."""
    where = f"{where} anything-but"
    if isinstance(operand, Mapping):
        name, inner = _single_operator(operand, where)
        if name in ("prefix", "suffix"):  # documented: a single value, not a list
            return _affix_test(name == "prefix", _require_str(name, inner, where), False)
        if name in ("equals-ignore-case", "wildcard"):
            values = inner if isinstance(inner, list) else [inner]
            if not values:
                raise PatternError(f"{where}: {name} list is empty")
            tests = tuple(_compile_operator(name, value, where) for value in values)
            return lambda value: any(test(value) for test in tests)
        raise PatternError(f"{where}: unsupported operator {name!r}")
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        raise PatternError(f"{where}: the list of values is empty")
    if not (
        all(isinstance(value, str) for value in values)
        or all(_is_pattern_number(value) for value in values)
    ):
        raise PatternError(f"{where}: takes strings only or numbers only, got {operand!r}")
    excluded = frozenset((type(value), value) for value in values)
    return lambda value: (type(value), value) in excluded
