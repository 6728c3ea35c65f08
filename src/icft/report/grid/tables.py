"""Result tables: one per world (modes x splits), one per world for two studies side by side; Markdown and HTML."""

from __future__ import annotations

from icft.evaluate.stats import Estimate, mover
from icft.learn.modes import MODES, mode_label
from icft.evaluate.learned import RECALL_FLOOR
from icft.learn.finetune.stopping import describe as describe_stop
from icft.report.cases import cell_accuracy, cell_probability
from icft.report.grid.results import Scores
from icft.report.page import MISSING, Table, format_estimate

def world_table(scores: Scores, world: str) -> Table:
    """Rows: modes in `MODES` order, then chance, the best shortcut baseline (generalization splits) and n items;
    columns: splits, then the number of seeds. A free-form split has two columns: exact match (its accuracy)
    and SQuAD token F1."""
    splits = scores.splits(world)
    free = {split for split in splits if scores.free_form(world, split)}

    def columns(split: str, accuracy: str, f1: str) -> list[str]:
        return [accuracy, f1] if split in free else [accuracy]

    rows = []
    for mode in scores.modes(world):
        cells = [c for split in splits for c in columns(split, _cell(scores.get(world, mode, split)),
                                                        _cell(scores.f1.get((world, mode, split))))]
        rows.append((mode_label(mode), *cells, str(len(scores.seeds.get((world, mode), ())))))
    rows.append(("chance", *[c for split in splits
                             for c in columns(split, f"{scores.chance[(world, split)]:.2f}", "")], ""))
    if any((world, split) in scores.baselines for split in splits):
        rows.append(("best shortcut baseline", *[c for split in splits
                                                 for c in columns(split, _baseline(scores, world, split), "")], ""))
    counts = [_item_counts(scores, world, split) for split in splits]
    rows.append(("n items", *[c for split, n in zip(splits, counts) for c in columns(split, n, n)], ""))
    header = [h for split in splits
              for h in ([f"{split} (exact match)", f"{split} (F1)"] if split in free else [split])]
    return Table(header=("mode", *header, "seeds"), rows=tuple(rows))


def probability_table(scores: Scores, world: str) -> Table | None:
    """Mean probability of the correct option(s) per mode and split (softmax over the options' summed
    log-likelihoods): a continuous companion of accuracy; None when the world's items were not available."""
    splits = scores.splits(world)
    rows = [(mode_label(mode), *[_cell(scores.probability.get((world, mode, split))) for split in splits])
            for mode in scores.modes(world) if any((world, mode, split) in scores.probability for split in splits)]
    return Table(header=("p(correct)", *splits), rows=tuple(rows)) if rows else None


def known_table(scores: Scores, world: str) -> Table | None:
    """Knowing before generalizing: per mode, the facts it knows (every control item asking them answered), and per
    generalization split its accuracy and p(correct) on the items whose facts it knows. It separates "did not
    learn" from "learned, but does not generalize". None when the world's items (their facts) are not available."""
    controls = scores.control_splits(world)
    general = [split for split in scores.splits(world) if split not in controls]
    rows = []
    for mode in scores.modes(world):
        known = scores.known(world, mode)
        asked = _facts_asked(scores, world, mode)
        if not known or not asked:
            continue
        cells = []
        for split in general:
            cell = scores.known_cell(world, split, mode)
            everything = scores.cell(world, mode, split) or {}
            total = sum(len(items.ids) for items in everything.values())
            if not cell:
                cells.append(f"0/{total} items")
                continue
            probability = cell_probability(cell)
            cells.append(f"{cell_accuracy(cell).mean:.2f} on {sum(len(i.ids) for i in cell.values())}/{total} items"
                         + (f", p(correct) {probability.mean:.2f}" if probability else ""))
        rows.append((mode_label(mode), f"{sum(len(f) for f in known.values())}/{asked}", *cells))
    header = ("mode", "facts known", *[f"{split}: on known facts" for split in general])
    return Table(header=header, rows=tuple(rows)) if rows else None


def _facts_asked(scores: Scores, world: str, mode: str) -> int:
    """How many facts the control items of `mode`'s seeds ask, summed over seeds."""
    asked = 0
    for seed in scores.seeds.get((world, mode), ()):
        facts = set()
        for split in scores.control_splits(world):
            items = scores.items.get((world, mode, split), {}).get(seed)
            if items is not None and items.fact_ids is not None:
                facts.update(f for ids in items.fact_ids for f in ids)
        asked += len(facts)
    return asked


def learned_table(scores: Scores, world: str) -> Table:
    """"Did each mode learn the facts?": control accuracy against the threshold, and what training did.

    Fine-tuned rows add steps, epochs, final training loss and whether the stopping criterion was met (summed
    or listed over seeds); the last column is the mean accuracy over the generalization splits, for reference.
    """
    controls = scores.control_splits(world)
    general = [split for split in scores.splits(world) if split not in controls]
    rows = []
    for mode in scores.modes(world):
        check = scores.learned.get((world, mode))
        if check is None:
            continue
        fits = [s.fit for s in check.seeds if s.fit]
        control = "—" if check.control_accuracy is None else (
            f"{check.control_accuracy:.2f} ({sum(s.control_correct for s in check.seeds)}/"
            f"{sum(s.control_n for s in check.seeds)})")
        means = [scores.get(world, mode, split).mean for split in general if scores.get(world, mode, split)]
        rows.append((
            mode_label(mode), control,
            check.status() + (f" ({check.margin})" if check.checked and check.margin is not None else ""),
            _join(fit.steps for fit in fits), _join(fit.epochs for fit in fits),
            _join(_loss(fit.final_loss) for fit in fits),
            " / ".join(describe_stop(f) for f in fits) if fits else "",
            f"{sum(means) / len(means):.2f}" if means else MISSING,
            _per_fit(scores, world, mode, general) if fits else "",
        ))
    header = ("mode", f"control ({', '.join(controls) or 'none'})", f"learned (recall > {RECALL_FLOOR:.2f}, margin)",
              "steps", "epochs", "final loss (own text)", "stopped by", "generalization (mean)",
              "generalization per fit")
    return Table(header=header, rows=tuple(rows))


def _per_fit(scores: Scores, world: str, mode: str, splits: list[str]) -> str:
    """Each fit's (seed's) mean accuracy over the generalization splits, in seed order: "0.04 / 0.12 / 0.08"."""
    cells = [scores.cell(world, mode, split) or {} for split in splits]
    seeds = sorted({seed for cell in cells for seed in cell})
    means = [[float(cell[seed].scores.mean()) for cell in cells if seed in cell] for seed in seeds]
    return " / ".join(f"{sum(m) / len(m):.2f}" for m in means if m)


def compare_table(a: Scores, b: Scores, world: str, name_a: str, name_b: str) -> Table:
    """One row per (mode, split) either study holds: both accuracies, the difference B - A with its 95% CI
    (MOVER: the studies are independent), and which is higher where that CI excludes 0."""
    order = list(MODES)
    modes = sorted(_union(a.modes(world), b.modes(world)), key=lambda m: order.index(m) if m in order else len(order))
    splits = _union(a.splits(world), b.splits(world))
    rows = []
    for mode in modes:
        for split in splits:
            first, second = a.get(world, mode, split), b.get(world, mode, split)
            if first is None and second is None:
                continue
            rows.append((mode_label(mode), split, _cell(first), _cell(second), *_difference(first, second,
                                                                                            name_a, name_b)))
    return Table(header=("mode", "split", name_a, name_b, f"{name_b} − {name_a} [95% CI]", "verdict"),
                 rows=tuple(rows))


def _join(values) -> str:
    """Each fit's value, " / " between them ("?" where a record lacks it)."""
    return " / ".join("?" if value is None else str(value) for value in values)


def _loss(loss: float | None) -> str | None:
    return None if loss is None else f"{loss:.3f}"


def _cell(estimate: Estimate | None) -> str:
    return MISSING if estimate is None else format_estimate(estimate)


def _baseline(scores: Scores, world: str, split: str) -> str:
    if (world, split) not in scores.baselines:
        return ""
    name, accuracy = scores.baselines[(world, split)]
    return f"{accuracy:.2f} ({name})"


def _item_counts(scores: Scores, world: str, split: str) -> str:
    """Items pooled over seeds; a range where modes differ (some with fewer finished seeds)."""
    counts = sorted({e.n for (w, _, s), e in scores.accuracy.items() if w == world and s == split})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def _difference(first: Estimate | None, second: Estimate | None, name_a: str, name_b: str) -> tuple[str, str]:
    if first is None or second is None:
        return MISSING, ""
    diff, low, high = mover((second.mean, second.low, second.high), (first.mean, first.low, first.high))
    said = f"{name_b} higher" if low > 0 else f"{name_a} higher" if high < 0 else "no difference shown"
    return f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]", said


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys(first + second))


