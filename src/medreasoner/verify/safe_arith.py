"""A safe stand-in for the ``eval`` calls of the official MedCalc-Bench scorer.

The official code ``eval``s model text twice: arithmetic inside ``str(...)`` answers (with the
builtins replaced by ``min, pow, round, abs, int, float, math, np, numpy``) and every answer /
ground-truth / limit string in ``check_correctness``. Model text must never reach ``eval``, so this
module parses with :func:`ast.parse` (same literal rules as ``eval``: ``"08"`` is a syntax error,
``"00"`` is 0) and walks a whitelist of nodes: numbers, strings, ``True/False/None``, tuples and
lists, ``+ - * / // % **``, unary ``+ - not``, comparisons, ``and/or``, ``x if c else y``, calls of
the official names and of whitelisted ``math``/``np`` attributes.

Deviations, all cases where the official ``eval`` fails too or computes something that is then
graded Incorrect: bitwise and shift operators, comprehensions, lambdas, subscripts and any other
name are rejected; integer powers and products larger than :data:`MAX_INT_BITS` bits (which would
stall ``eval`` for minutes: ``9**9**9``) are rejected; ``np.*`` functions are computed with
``math`` (``np.sqrt(-1)`` gives nan officially, an error here: both grade Incorrect).
Every failure raises :class:`ArithmeticRejected` (a ``ValueError``).
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

MAX_INT_BITS = 100_000
MAX_DEPTH = 500

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: pow,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_MATH_ATTRIBUTES = {
    "sqrt": math.sqrt, "exp": math.exp, "pow": math.pow, "fabs": math.fabs, "floor": math.floor,
    "ceil": math.ceil, "trunc": math.trunc, "hypot": math.hypot, "log": math.log, "log10": math.log10,
    "pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan,
}
_NUMPY_ATTRIBUTES = {
    "sqrt": math.sqrt, "exp": math.exp, "power": pow, "abs": abs, "absolute": abs, "round": round,
    "floor": math.floor, "ceil": math.ceil, "log": math.log, "log10": math.log10,
    "pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan,
}
MODULES = {"math": _MATH_ATTRIBUTES, "np": _NUMPY_ATTRIBUTES, "numpy": _NUMPY_ATTRIBUTES}
# The names the official str(...) evaluator exposes (its __builtins__ is None).
EXPRESSION_FUNCTIONS = {"min": min, "pow": pow, "round": round, "abs": abs, "int": int, "float": float}


class ArithmeticRejected(ValueError):
    """The expression is not valid, not allowed, or fails to evaluate."""


def evaluate(source: str, functions: dict[str, Any], modules: dict[str, dict[str, Any]]) -> Any:
    """Value of the Python expression ``source`` using only ``functions`` and ``modules`` as names.

    Use ``functions={}, modules={}`` for the literal-only ``eval`` of answer and limit strings.

    >>> evaluate("round((140 - 22) * 20.5 / (72 * 9.3), 2)", EXPRESSION_FUNCTIONS, MODULES)
    3.61
    >>> evaluate("math.sqrt(2**2)", EXPRESSION_FUNCTIONS, MODULES)
    2.0
    >>> evaluate("__import__('os')", EXPRESSION_FUNCTIONS, MODULES)
    Traceback (most recent call last):
    ...
    medreasoner.verify.safe_arith.ArithmeticRejected: call of a function that is not allowed
    """
    try:
        tree = ast.parse(source.strip(" \t"), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        raise ArithmeticRejected(f"not an expression: {type(error).__name__}") from None
    try:
        return _Evaluator(functions, modules).value(tree.body, 0)
    except ArithmeticRejected:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as error:
        raise ArithmeticRejected(f"{type(error).__name__}: {error}") from None


def evaluate_literal(source: str) -> Any:
    """``eval`` of an answer/limit string with no names at all (numbers, tuples, arithmetic).

    >>> evaluate_literal("-0.828"), evaluate_literal("(14, 1)")
    (-0.828, (14, 1))
    """
    return evaluate(source, {}, {})


class _Evaluator:
    def __init__(self, functions: dict[str, Any], modules: dict[str, dict[str, Any]]):
        self.functions = functions
        self.modules = modules

    def value(self, node: ast.expr, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ArithmeticRejected("expression nested too deeply")
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex, str, bool, type(None))):
            return node.value
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.value(element, depth + 1) for element in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Compare):
            return self._compare(node, depth)
        if isinstance(node, ast.BoolOp):
            result = self.value(node.values[0], depth + 1)
            for operand in node.values[1:]:
                if isinstance(node.op, ast.And) != bool(result):
                    return result
                result = self.value(operand, depth + 1)
            return result
        if isinstance(node, ast.IfExp):
            branch = node.body if self.value(node.test, depth + 1) else node.orelse
            return self.value(branch, depth + 1)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Name):
            raise ArithmeticRejected(f"name {node.id!r} is not allowed")
        raise ArithmeticRejected(f"{type(node).__name__} is not allowed")

    def _binary(self, node: ast.BinOp, depth: int) -> Any:
        # Left-deep chains ("1+1+...+1") are walked iteratively so their length costs no recursion.
        chain = []
        while isinstance(node, ast.BinOp):
            chain.append(node)
            node = node.left
        result = self.value(node, depth + 1)
        for link in reversed(chain):
            function = _BINARY.get(type(link.op))
            if function is None:
                raise ArithmeticRejected(f"operator {type(link.op).__name__} is not allowed")
            right = self.value(link.right, depth + 1)
            _check_operands(result, right, link.op)
            result = function(result, right)
        return result

    def _unary(self, node: ast.UnaryOp, depth: int) -> Any:
        operand = self.value(node.operand, depth + 1)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(operand, (str, tuple, list)) or not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ArithmeticRejected(f"unary {type(node.op).__name__} is not allowed here")
        return -operand if isinstance(node.op, ast.USub) else +operand

    def _compare(self, node: ast.Compare, depth: int) -> bool:
        left = self.value(node.left, depth + 1)
        for op, comparator in zip(node.ops, node.comparators):
            function = _COMPARE.get(type(op))
            if function is None:
                raise ArithmeticRejected(f"comparison {type(op).__name__} is not allowed")
            right = self.value(comparator, depth + 1)
            if not function(left, right):
                return False
            left = right
        return True

    def _call(self, node: ast.Call, depth: int) -> Any:
        function = self._callable(node.func)
        args = [self.value(arg, depth + 1) for arg in node.args]
        kwargs = {kw.arg: self.value(kw.value, depth + 1) for kw in node.keywords if kw.arg is not None}
        if len(kwargs) != len(node.keywords):
            raise ArithmeticRejected("**kwargs is not allowed")
        if function is pow and len(args) >= 2:
            _check_operands(args[0], args[1], ast.Pow())
        return function(*args, **kwargs)

    def _callable(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name) and node.id in self.functions:
            return self.functions[node.id]
        if isinstance(node, ast.Attribute):
            target = self._attribute(node)
            if callable(target):
                return target
        raise ArithmeticRejected("call of a function that is not allowed")

    def _attribute(self, node: ast.Attribute) -> Any:
        if isinstance(node.value, ast.Name) and node.value.id in self.modules:
            attributes = self.modules[node.value.id]
            if node.attr in attributes:
                return attributes[node.attr]
        raise ArithmeticRejected(f"attribute {node.attr!r} is not allowed")


def _check_operands(left: Any, right: Any, op: ast.operator) -> None:
    # Strings and sequences only appear as arguments (float("2.5"), min([1, 2])); arithmetic on them
    # could build gigabyte strings ("x" * 10**9), so it is refused.
    for operand in (left, right):
        if isinstance(operand, (str, tuple, list)):
            raise ArithmeticRejected("arithmetic on strings or sequences is not allowed")
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    # Bound the size of exact integer results, which Python would happily compute for minutes.
    if isinstance(op, ast.Pow) and abs(left) > 1 and right > 0 and left.bit_length() * right > MAX_INT_BITS:
        raise ArithmeticRejected("integer power too large")
    if isinstance(op, ast.Mult) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise ArithmeticRejected("integer product too large")
