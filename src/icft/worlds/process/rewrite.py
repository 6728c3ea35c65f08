"""Expressions over nonsense functions and a transform defined by rewrite rules (the process world).

An expression is a function of x built from named primitives: `x`, `blick(E)` (a primitive applied to an
expression), `sum(E, E)` and `prod(E, E)`. Claims and `world.json` write it in this prefix form; documents
and options use the infix form `blick(x) * (zorp(x) + fendo(x))`.

A transform is given by rules, one template per kind of expression, in the same prefix language plus
`a`, `b` (the operands, or the argument of an application), `f` (the applied primitive), `f'` (its image,
from the stated facts `(f, relation, image)`) and `T(...)` (the transform, recursively):

    {"base": "f'(x)", "apply": "sum(f'(a), T(a))", "sum": "prod(T(a), T(b))", "prod": "sum(T(a), T(b))"}

`base` rewrites a primitive applied to x, `apply` one applied to anything else. Sums and products are
commutative: results are compared up to the order of their operands.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Tree = tuple  # ("x",) | ("app", name, tree) | ("sum", tree, tree) | ("prod", tree, tree) | ("T", tree) | ("var", name)
OPERATORS = ("sum", "prod")
SYMBOLS = {"sum": "+", "prod": "*"}
_TOKEN = re.compile(r"[A-Za-z_]+'?|[(),]")


def parse(text: str) -> Tree:
    """The tree of a prefix expression or template; ValueError names what is wrong."""
    tokens = _TOKEN.findall(text)
    if "".join(tokens) != re.sub(r"\s+", "", text):
        raise ValueError(f"unexpected characters in {text!r}")
    tree, end = _parse(tokens, 0, text)
    if end != len(tokens):
        raise ValueError(f"trailing text in {text!r}")
    return tree


def _parse(tokens: list[str], i: int, text: str) -> tuple[Tree, int]:
    if i >= len(tokens) or tokens[i] in "(),":
        raise ValueError(f"expected a name at token {i} of {text!r}")
    name = tokens[i]
    if name == "x":
        return ("x",), i + 1
    if name in ("a", "b"):
        return ("var", name), i + 1
    if i + 1 >= len(tokens) or tokens[i + 1] != "(":
        raise ValueError(f"{name!r} needs arguments in {text!r}")
    first, i = _parse(tokens, i + 2, text)
    if name in OPERATORS:
        if i >= len(tokens) or tokens[i] != ",":
            raise ValueError(f"{name} takes two arguments in {text!r}")
        second, i = _parse(tokens, i + 1, text)
        node: Tree = (name, first, second)
    else:
        node = ("T", first) if name == "T" else ("app", name, first)
    if i >= len(tokens) or tokens[i] != ")":
        raise ValueError(f"missing ')' in {text!r}")
    return node, i + 1


def prefix(tree: Tree, sort: bool = False) -> str:
    """The prefix form: `prod(blick(x), sum(zorp(x), fendo(x)))`; with `sort`, the operands of every sum and
    product in sorted order."""
    if tree[0] == "x":
        return "x"
    if tree[0] == "app":
        return f"{tree[1]}({prefix(tree[2], sort)})"
    operands = [prefix(t, sort) for t in tree[1:]]
    return f"{tree[0]}({', '.join(sorted(operands) if sort else operands)})"


def infix(tree: Tree) -> str:
    """The surface form: `blick(x) * (zorp(x) + fendo(x))`; a sum or product inside another is bracketed."""
    if tree[0] == "x":
        return "x"
    if tree[0] == "app":
        return f"{tree[1]}({infix(tree[2])})"
    sides = [f"({infix(t)})" if t[0] in OPERATORS else infix(t) for t in tree[1:]]
    return f" {SYMBOLS[tree[0]]} ".join(sides)


def canonical(tree: Tree) -> str:
    """A form equal for two trees exactly when they are equal up to commutativity."""
    return prefix(tree, sort=True)


def transform(tree: Tree, rules: dict[str, str], image: dict[str, str],
              wrong: dict[int, dict[str, str]] | None = None, depth: int = 0) -> Tree:
    """`tree` rewritten by `rules`, with `image` the stated images of the primitives (KeyError: one is not
    stated). `wrong` swaps in other templates at some rule depths (0 = the outermost), for distractors."""
    kind = tree[0] if tree[0] != "app" else ("base" if tree[2] == ("x",) else "apply")
    templates = {**rules, **(wrong or {}).get(depth, {})}
    bindings = {"a": tree[2] if kind in ("base", "apply") else tree[1], "b": tree[-1], "f": tree[1]}

    def fill(node: Tree) -> Tree:
        if node[0] == "x":
            return node
        if node[0] == "var":
            return bindings[node[1]]
        if node[0] == "T":
            return transform(fill(node[1]), rules, image, wrong, depth + 1)
        if node[0] == "app":
            name = {"f": bindings["f"], "f'": image.get(bindings["f"], "")}.get(node[1], node[1])
            if not name:
                raise KeyError(bindings["f"])
            return ("app", name, fill(node[2]))
        return (node[0], fill(node[1]), fill(node[2]))

    return fill(parse(templates[kind]))


def prover(rewrites: dict[str, dict[str, str]], stated: set[tuple[str, str, str]]) -> Callable[[tuple], bool | None]:
    """For a claim (expression, relation, result) of a rewrite relation: does the result follow from the
    stated images by the rules (up to commutativity)? None for other relations or when an image is unstated."""
    images = {r: {s: o for s, rel, o in stated if rel == r and "(" not in s} for r in rewrites}

    def follows(claim: tuple) -> bool | None:
        subject, relation, obj = claim
        if relation not in rewrites or "(" not in subject:
            return None  # not a rewrite, or a primitive's image: a stated fact or not
        try:
            result = transform(parse(subject), rewrites[relation], images[relation])
        except KeyError:
            return False
        return canonical(result) == canonical(parse(obj))

    return follows
