"""Facts as triples and a small forward-chaining reasoner over them.

A world declares how its relations combine (`Rules`); the checker uses the closure of the train facts
under those rules to prove that every correct option follows and no distractor does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# (subject, relation, object), e.g. ("femp", "more_dangerous", "glon")
Claim = tuple[str, str, str]


@dataclass(frozen=True)
class Rules:
    """How a world's relations combine.

    converses: r -> r' means r(a, b) implies r'(b, a). A symmetric relation maps to itself.
    implications: r -> r' means r(a, b) implies r'(a, b) (a syllogism's "all" implies "some").
    compositions: (r1, r2, r3) means r1(a, b) and r2(b, c) imply r3(a, c).
    convention: the reading the rules encode, in words, where more than one is common ("" if none).
    rewrites: relation -> {kind of expression: template}: a transform defined by rewrite rules (the process
        world; see `icft.worlds.process.rewrite`), proved by computing it rather than by the closure.
    """

    converses: dict[str, str] = field(default_factory=dict)
    compositions: tuple[tuple[str, str, str], ...] = ()
    implications: dict[str, str] = field(default_factory=dict)
    convention: str = ""
    rewrites: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict:
        out: dict = {"convention": self.convention} if self.convention else {}
        out["converses"] = dict(sorted(self.converses.items()))
        if self.implications:
            out["implications"] = dict(sorted(self.implications.items()))
        out["compositions"] = [list(c) for c in self.compositions]
        if self.rewrites:
            out["rewrites"] = {r: dict(sorted(t.items())) for r, t in sorted(self.rewrites.items())}
        return out

    @classmethod
    def from_json(cls, data: dict) -> Rules:
        return cls(
            converses=dict(data.get("converses", {})),
            compositions=tuple(tuple(c) for c in data.get("compositions", [])),
            implications=dict(data.get("implications", {})),
            convention=str(data.get("convention", "")),
            rewrites={r: dict(t) for r, t in data.get("rewrites", {}).items()},
        )


def closure(facts: set[Claim] | list[Claim], rules: Rules, max_facts: int = 2_000_000) -> set[Claim]:
    """Everything that follows from `facts` under `rules` (a fixed point, semi-naive)."""
    return set(derivations(facts, rules, max_facts))


def derivations(facts: set[Claim] | list[Claim], rules: Rules,
                max_facts: int = 2_000_000) -> dict[Claim, frozenset[Claim]]:
    """The closure of `facts`, each claim with the given facts its first-found derivation uses."""
    support: dict[Claim, frozenset[Claim]] = {claim: frozenset((claim,)) for claim in facts}
    # index by (relation, subject) so a composition looks up only the facts that can chain
    by_rel_subject: dict[tuple[str, str], set[str]] = {}
    by_rel_object: dict[tuple[str, str], set[str]] = {}
    frontier = list(support)
    for s, r, o in support:
        by_rel_subject.setdefault((r, s), set()).add(o)
        by_rel_object.setdefault((r, o), set()).add(s)

    def add(claim: Claim, premises: frozenset[Claim], out: list[Claim]) -> None:
        if claim not in support:
            support[claim] = premises
            s, r, o = claim
            by_rel_subject.setdefault((r, s), set()).add(o)
            by_rel_object.setdefault((r, o), set()).add(s)
            out.append(claim)

    while frontier:
        if len(support) > max_facts:
            raise RuntimeError(f"closure exceeded {max_facts} facts: the rules are probably unbounded")
        new: list[Claim] = []
        for s, r, o in frontier:
            premises = support[(s, r, o)]
            if r in rules.converses:
                add((o, rules.converses[r], s), premises, new)
            if r in rules.implications:
                add((s, rules.implications[r], o), premises, new)
            for r1, r2, r3 in rules.compositions:
                if r == r1:  # this fact is the left premise: r1(s, o), r2(o, c)
                    for c in sorted(by_rel_subject.get((r2, o), ())):
                        add((s, r3, c), premises | support[(o, r2, c)], new)
                if r == r2:  # this fact is the right premise: r1(a, s), r2(s, o)
                    for a in sorted(by_rel_object.get((r1, s), ())):
                        add((a, r3, o), premises | support[(a, r1, s)], new)
        frontier = new
    return support
