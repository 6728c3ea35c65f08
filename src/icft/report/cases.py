"""The numbers of one case of a finding: two modes compared on the same items, or one cell against chance.

A cell's items are kept per seed (`SeedItems`), with their ids; two cells are compared on the items both
hold, joined on item id within each seed (never on row order). Items that share a fact form a cluster: the
fact an item shares with the most other items of its split names its cluster (grouping every item linked
through any shared fact would merge a whole semantic split into one or two clusters). A `Case` holds the
numbers; the verdict is given by the rules of `icft.report.verdicts`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from icft.evaluate.stats import (PRIMARY_METRIC, Difference, Estimate, cell_estimate, equivalence, gain_difference,
                                 paired)
from icft.learn.modes import fitted, mode_label
from icft.evaluate.plan import Planned

BOOTSTRAP_SEED = 0  # the same stored results always give the same intervals


@dataclass(frozen=True, eq=False)
class SeedItems:
    """One finished run's items of one split (or one task's examples), in the store's order."""

    ids: tuple[str, ...]
    scores: np.ndarray  # (n,) 0/1 accuracy of the summed log-likelihood choice (free form: exact match), or ROUGE-L F1
    clusters: np.ndarray | None = None  # (n,) cluster per item (a shared fact); None: each item alone
    p_correct: np.ndarray | None = None  # (n,) softmax probability of the correct option(s)
    chosen: np.ndarray | None = None  # (n,) index of the chosen option
    wordings: tuple[tuple[str, ...], ...] | None = None  # per item, each option's wording (its claim's relation)
    fact_ids: tuple[tuple[str, ...], ...] | None = None  # per item, the train facts its answer rests on
    f1: np.ndarray | None = None  # (n,) free-form splits: SQuAD token F1 (a multiple-choice item's: its accuracy)

    def subset(self, keep: np.ndarray) -> SeedItems:
        """The items where `keep` (an (n,) bool mask) is True."""
        def pick(values):
            return None if values is None else values[keep]

        def pick_tuple(values):
            return None if values is None else tuple(v for v, k in zip(values, keep) if k)

        return SeedItems(ids=pick_tuple(self.ids), scores=self.scores[keep], clusters=pick(self.clusters),
                         p_correct=pick(self.p_correct), chosen=pick(self.chosen), wordings=pick_tuple(self.wordings),
                         fact_ids=pick_tuple(self.fact_ids), f1=pick(self.f1))


Cell = dict[int, SeedItems]  # seed -> items


@dataclass(frozen=True)
class Case(Planned):
    """A planned case with its numbers; `a` and `b` are modes (transfer: variants), B None against chance.

    `diff` is A - B (paired: mean over seeds of the mean paired item difference), or A - chance, or the
    difference of normalized gains across two worlds (then `world_b`/`split_b` name B's cell). A paired case's
    numbers (diff, interval, p, MDE) are those of its `metric`: the primary metric p(correct) where the items'
    options are known, else accuracy; the other is kept beside it (`prob`, `accuracy`).
    """

    size: int | None = None  # transfer: the train size (world = training task, split = test task)
    seeds: int = 0
    n: int = 0
    discordant_b: int | None = None  # items A got right and B wrong
    discordant_c: int | None = None  # items B got right and A wrong
    diff: float | None = None
    ci_low: float | None = None  # 95%; against chance: the 90% interval of the TOST
    ci_high: float | None = None
    p: float | None = None
    p_holm: float | None = None
    mde: float | None = None
    margin: float | None = None
    verdict: str = ""
    note: str = ""  # why invalid, the option bias, or what cannot be detected
    prob: Difference | None = field(default=None, compare=False)  # the same comparison on p(correct)
    # the same comparison on the items whose facts both cells know (their control items answered): it separates
    # "did not learn" from "learned, but does not generalize"; None when no item pairs there
    known: Difference | None = field(default=None, compare=False)
    accuracy: Difference | None = field(default=None, compare=False)  # the same comparison on accuracy
    metric: str = "accuracy"  # what diff, the interval, p and the MDE measure: "p(correct)" or "accuracy"
    estimates: tuple[Estimate, ...] = field(default=(), compare=False)  # A's (and B's) accuracy
    chance: float | None = None

    @property
    def where(self) -> str:
        if self.size is not None:
            return f"n={self.size} · {self.world} → {self.split}"
        if self.world_b is not None:
            return f"{self.world}/{self.split} vs {self.world_b}/{self.split_b}"
        return f"{self.world}/{self.split}"


def known_facts(controls: list[SeedItems]) -> frozenset[str] | None:
    """The facts a run knows: every control item asking that fact answered (None without the items' facts)."""
    if any(c.fact_ids is None for c in controls):
        return None
    asked, missed = set(), set()
    for control in controls:
        for facts, score in zip(control.fact_ids, control.scores):
            asked.update(facts)
            if score < 1:
                missed.update(facts)
    return frozenset(asked - missed)


def on_known_facts(cell: Cell, known: dict[int, frozenset[str]]) -> Cell:
    """The cell's items whose every fact is known in its seed (a fact no control item asks is not known)."""
    out = {}
    for seed, items in cell.items():
        if seed not in known or items.fact_ids is None:
            continue
        keep = np.array([bool(facts) and set(facts) <= known[seed] for facts in items.fact_ids])
        if keep.any():
            out[seed] = items.subset(keep)
    return out


def cell_accuracy(cell: Cell) -> Estimate:
    """Accuracy over the cell's seeds: Wilson for one seed, with the cluster bootstrap for several."""
    seeds = sorted(cell)
    return cell_estimate([cell[s].scores for s in seeds], [cell[s].clusters for s in seeds], seed=BOOTSTRAP_SEED)


def cell_probability(cell: Cell) -> Estimate | None:
    """Mean probability of the correct option(s), or None when the world's items were not available."""
    seeds = sorted(cell)
    if any(cell[s].p_correct is None for s in seeds):
        return None
    return cell_estimate([cell[s].p_correct for s in seeds], [cell[s].clusters for s in seeds], seed=BOOTSTRAP_SEED)


def cell_f1(cell: Cell) -> Estimate | None:
    """Mean SQuAD token F1 of a free-form cell (None for a multiple-choice one)."""
    seeds = sorted(cell)
    if not seeds or any(cell[s].f1 is None for s in seeds):
        return None
    return cell_estimate([cell[s].f1 for s in seeds], [cell[s].clusters for s in seeds], seed=BOOTSTRAP_SEED)


def compare(finding: int, claim: str, world: str, split: str, a: str, b: str, first: Cell, second: Cell,
            margin: float | None = None) -> Case:
    """A against B on the items both hold, per seed; None-free numbers even when few items pair."""
    seeds, one, two, clusters = _joined(first, second, "scores")
    estimates = (cell_accuracy(first), cell_accuracy(second))
    if not seeds:
        return Case(finding, claim, world, split, a, b, margin=margin, estimates=estimates,
                    note="the two modes share no scored item")
    fits = fitted(a) or fitted(b)  # a claim about a fine-tuned mode counts the spread of its fits
    accuracy = paired(one, two, clusters, seed=BOOTSTRAP_SEED, fits=fits)
    prob_seeds, prob_one, prob_two, prob_clusters = _joined(first, second, "p_correct")
    prob = paired(prob_one, prob_two, prob_clusters, seed=BOOTSTRAP_SEED, fits=fits) if prob_seeds == seeds else None
    primary = prob if PRIMARY_METRIC == "p_correct" and prob is not None else accuracy
    return Case(finding, claim, world, split, a, b, seeds=accuracy.seeds, n=accuracy.n, discordant_b=accuracy.b,
                discordant_c=accuracy.c, diff=primary.diff, ci_low=primary.low, ci_high=primary.high, p=primary.p,
                mde=primary.mde, margin=margin, prob=prob, accuracy=accuracy, estimates=estimates,
                metric="p(correct)" if primary is prob else "accuracy")


def versus_chance(finding: int, claim: str, world: str, split: str, mode: str, cell: Cell, chance: float,
                  margin: float) -> Case:
    """The cell against chance: TOST with `margin`, its 90% interval, and the option bias of its picks."""
    seeds = sorted(cell)
    result = equivalence([cell[s].scores for s in seeds], chance, margin, [cell[s].clusters for s in seeds],
                         seed=BOOTSTRAP_SEED, fits=fitted(mode))
    accuracy = cell_accuracy(cell)
    return Case(finding, claim, world, split, mode, seeds=len(seeds), n=accuracy.n, diff=result.mean - chance,
                ci_low=result.low90 - chance, ci_high=result.high90 - chance, p=result.p, mde=result.mde,
                margin=margin, estimates=(accuracy,), chance=chance, note=option_bias(cell))


def across_worlds(finding: int, claim: str, first: tuple[str, str, str, Cell, float],
                  second: tuple[str, str, str, Cell, float]) -> Case:
    """Normalized gain (acc - chance) / (1 - chance) of one cell minus another's, on different items."""
    (world, split, a, cell_a, chance_a), (world_b, split_b, b, cell_b, chance_b) = first, second
    seeds_a, seeds_b = sorted(cell_a), sorted(cell_b)
    result = gain_difference([cell_a[s].scores for s in seeds_a], chance_a, [cell_b[s].scores for s in seeds_b],
                             chance_b, [cell_a[s].clusters for s in seeds_a], [cell_b[s].clusters for s in seeds_b],
                             seed=BOOTSTRAP_SEED)
    return Case(finding, claim, world, split, a, b, world_b=world_b, split_b=split_b, seeds=result.seeds,
                n=result.n, diff=result.diff, ci_low=result.low, ci_high=result.high, p=result.p, mde=result.mde,
                estimates=(cell_accuracy(cell_a), cell_accuracy(cell_b)))


def option_bias(cell: Cell) -> str:
    """How one-sided the picks are: the most picked position, and the most picked wording where known."""
    items = [cell[s] for s in sorted(cell)]
    if any(i.chosen is None for i in items):
        return ""
    chosen = np.concatenate([i.chosen for i in items])
    position, count = Counter(chosen.tolist()).most_common(1)[0]
    text = f"picks option {position + 1} in {count / len(chosen):.0%} of items"
    if all(i.wordings is not None for i in items):
        wordings = [w for i in items for w in i.wordings]
        picked = [options[c] for options, c in zip(wordings, chosen.tolist())]
        wording, times = Counter(picked).most_common(1)[0]
        expected = np.mean([options.count(wording) / len(options) for options in wordings])
        text += f", the wording {wording!r} in {times / len(picked):.0%} (offered {expected:.0%})"
    return text


def claim_text(case: Case, label: Callable[[str], str] = mode_label) -> str:
    """The case's claim with its modes named: "ICL > FT", "pretrained ≈ chance"."""
    text = re.sub(r"\bA\b", label(case.a), case.claim)
    return re.sub(r"\bB\b", label(case.b), text) if case.b is not None else text


def describe(case: Case, label: Callable[[str], str] = mode_label) -> str:
    """The case's numbers in one clause (no verdict); `label` names the modes (or variants)."""
    if case.b is None:
        accuracy = case.estimates[0]
        return (f"{label(case.a)} {_estimate(accuracy)} vs chance {case.chance:.2f} on {case.where} "
                f"({_size(case)}): difference {_signed(case.diff)}, 90% interval [{_signed(case.ci_low)}, "
                f"{_signed(case.ci_high)}] (margin ±{case.margin:.2f}), TOST p {_p(case.p)}")
    first, second = case.estimates
    head = f"{label(case.a)} {_estimate(first)} vs {label(case.b)} {_estimate(second)} on {case.where}"
    if case.diff is None:
        return f"{head}: {case.note}"
    counts = "" if case.discordant_b is None else f", discordant {case.discordant_b}/{case.discordant_c}"
    kind = "normalized-gain difference" if case.world_b is not None else f"paired difference in {case.metric}"
    text = (f"{head} ({_size(case)}{counts}): {kind} {_signed(case.diff)} [{_signed(case.ci_low)}, "
            f"{_signed(case.ci_high)}], p {_p(case.p)}")
    if case.p_holm is not None:
        text += f", Holm p {_p(case.p_holm)}"
    text += f", MDE {case.mde:.2f}"
    text += fit_clause(case)
    if case.margin is not None:
        text += f", margin {case.margin:.2f}"
    beside = case.accuracy if case.metric == "p(correct)" else case.prob
    if beside is not None:
        name = "accuracy" if case.metric == "p(correct)" else "p(correct)"
        text += f"; {name} {_signed(beside.diff)} [{_signed(beside.low)}, {_signed(beside.high)}]"
    return text


def primary(case: Case) -> Difference | None:
    """The case's paired comparison on its metric (p(correct) or accuracy); None for other kinds of case."""
    return case.prob if case.metric == "p(correct)" else case.accuracy


def fit_clause(case: Case) -> str:
    """", fits +0.05 / -0.02 / +0.10, between-fit sd 0.04": each fit's difference and the spread the interval
    counts (assumed where there is one fit); empty where no side is fine-tuned."""
    found = primary(case)
    if found is None or found.between_fit_var is None:
        return ""
    sd = float(np.sqrt(found.between_fit_var))
    if found.fit_var_assumed:
        return f", one fit: between-fit sd {sd:.2f} assumed"
    return f", fits {' / '.join(_signed(d) for d in found.per_fit)}, between-fit sd {sd:.2f}"


def _joined(first: Cell, second: Cell, values: str):
    """Per seed both hold: A's and B's values on the item ids both hold (in A's order), and A's clusters."""
    seeds, one, two, clusters = [], [], [], []
    for seed in sorted(set(first) & set(second)):
        x, y = first[seed], second[seed]
        if getattr(x, values) is None or getattr(y, values) is None:
            continue
        where = {item: n for n, item in enumerate(y.ids)}
        mine = [n for n, item in enumerate(x.ids) if item in where]
        if not mine:
            continue
        theirs = [where[x.ids[n]] for n in mine]
        seeds.append(seed)
        one.append(getattr(x, values)[mine])
        two.append(getattr(y, values)[theirs])
        clusters.append(None if x.clusters is None else x.clusters[mine])
    return seeds, one, two, clusters


def _size(case: Case) -> str:
    """"40 items × 2 seeds"; one seed says its interval covers the items only."""
    if case.seeds == 1:
        return f"{case.n} items × 1 seed: items only"
    if case.seeds and case.n % case.seeds == 0:
        return f"{case.n // case.seeds} items × {case.seeds} seeds"
    return f"{case.n} items over {case.seeds} seeds"


def _estimate(e: Estimate) -> str:
    return f"{e.mean:.2f} [{e.low:.2f}, {e.high:.2f}]"


def _signed(x: float) -> str:
    return f"{x:+.2f}".replace("-0.00", "+0.00")


def _p(p: float | None) -> str:
    return "—" if p is None else f"{p:.3f}" if p >= 0.001 else "< 0.001"
