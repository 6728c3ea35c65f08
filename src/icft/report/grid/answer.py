"""What a report says first, and what it writes for machines: the answer in five lines, and findings.json.

The answer, per model: which mode generalizes best on each kind of split, what the learned check says, and
which findings reproduce (with the effect and its 95% CI), which do not, and which cannot be told apart at
this size. With several models (a study of two, or `icft report --compare`) the answer also puts their
verdicts side by side (`verdicts_by_model`), so a reader sees where the answer depends on the model.
findings.json holds every finding and every case with its numbers (see `case_record`), and every cell's
scores (`cell_records`): accuracy (exact match on a free-form split, beside its token F1) and p(correct).
"""

from __future__ import annotations

from collections import defaultdict

from icft.evaluate.learned import gets_facts
from icft.learn.modes import fitted, is_mode, mode_label, mode_spec
from icft.report.findings_file import json_number
from icft.report.grid.results import Scores
from icft.report.grid.where import answer_line, split_answers
from icft.report.page import MISSING, Table
from icft.report.verdicts import DOES_NOT_REPRODUCE, NOT_SHOWN, REPRODUCES, Finding, finding_effect, findings_summary

DEPENDS = "depends on the model"


def answer_lines(scores: Scores, findings: list[Finding]) -> list[str]:
    """At most six lines: where the knowledge should go per split of the worlds findings 2-8 do not name (tested,
    `icft.report.grid.where`), the best mode per split of the others, the learned check, then the findings."""
    answers = split_answers(scores, findings)
    tested = {a.world for a in answers}
    opening = [answer_line(answers)] if answers else []
    if any(world not in tested for world in scores.worlds()):
        opening.append(best_modes(scores, skip=tested))
    return [*opening, learned_summary(scores), *findings_summary(findings)]


def best_modes(scores: Scores, skip: set[str] = frozenset()) -> str:
    """Per world and generalization split (never a control split, never pooled across worlds whose chance levels
    differ): the valid mode with the highest accuracy, and the next, among the modes given the facts. The
    pretrained model was given nothing (it is the reference, not an answer to "context or weights?"), a mode that
    failed its learned check has no meaningful score, and the oracle's controls are upper bounds, not results:
    none is named. Worlds in `skip` are answered by a test instead (`icft.report.grid.where`)."""
    ranked: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for (world, mode, split), estimate in scores.accuracy.items():
        control = is_mode(mode) and mode_spec(mode).control
        if world in skip or not gets_facts(mode):
            continue
        if split not in scores.control_splits(world) and not control and not scores.invalid(world, mode):
            ranked[(world, split)].append((estimate.mean, mode))
    parts = []
    for (world, split), modes in ranked.items():
        modes.sort(key=lambda pair: -pair[0])
        (best, mode), rest = modes[0], modes[1:]
        runner_up = f" (next {mode_label(rest[0][1])} {rest[0][0]:.2f})" if rest else ""
        parts.append(f"{world}/{split}: {mode_label(mode)} {best:.2f}{runner_up}")
    return ("Highest accuracy per generalization split, among modes that took in their facts (chance differs by "
            "split; the findings below test it): " + ("; ".join(parts) or "none") + ".")


def learned_summary(scores: Scores) -> str:
    """Which modes given the facts (fine-tuned, ICL) took them in (control splits), and where one did not."""
    checks = [c for c in scores.learned.values() if c.checked]
    if not checks:
        return "Learned check: no mode in this study is given the facts."
    failed = [f"{mode_label(c.mode)} on {c.world} ({c.correct}/{c.n})" for c in checks if c.passed is False]
    unchecked = sorted({c.world for c in checks if c.passed is None})
    worlds: dict[str, list[str]] = defaultdict(list)
    for c in checks:
        if c.passed:
            worlds[mode_label(c.mode)].append(c.world)
    passed = [f"{mode} ({', '.join(where)})" for mode, where in worlds.items()]
    text = "Learned check: " + (f"passed by {', '.join(passed)}" if passed else "no mode passed")
    if failed:
        text += f"; NOT taken in: {', '.join(failed)} (their comparisons are invalid)"
    if unchecked:
        text += f"; no control split in {', '.join(unchecked)}"
    return text + "."


def verdicts_by_model(columns: dict[str, tuple[Scores, list[Finding]]]) -> Table:
    """The answers of several models side by side (`columns`: a name per model, or per study and model): a row
    per world's learned check (each mode given the facts: passed or FAILED, with its control items), then a row
    per finding (its verdict and effect); the last column says where the models' outcomes differ."""
    names = list(columns)
    worlds = list(dict.fromkeys(w for scores, _ in columns.values() for w in scores.worlds()))
    rows = []
    for world in worlds:
        cells = [_learned_cell(scores, world) if world in scores.worlds() else MISSING
                 for scores, _ in columns.values()]
        rows.append((f"learned check: {world}", *cells, _differ(cells)))
    numbers = list(dict.fromkeys(f.number for _, found in columns.values() for f in found))
    for number in numbers:
        found = [next((f for f in fs if f.number == number), None) for _, fs in columns.values()]
        claim = next(f.claim for f in found if f is not None)
        verdicts = [f.verdict if f is not None else MISSING for f in found]
        rows.append((f"{number}. {claim}", *[_verdict_cell(f) if f is not None else MISSING for f in found],
                     _differ(verdicts)))
    return Table(header=("", *names, "the models agree?"), rows=tuple(rows))


def _learned_cell(scores: Scores, world: str) -> str:
    """"ICL passed 58/60; FT FAILED 40/60": each mode given the facts, in the world's mode order."""
    checks = [scores.learned[(world, mode)] for mode in scores.modes(world)
              if (world, mode) in scores.learned and scores.learned[(world, mode)].checked]
    outcome = {True: "passed", False: "FAILED", None: "unchecked"}
    return "; ".join(f"{mode_label(c.mode)} {outcome[c.passed]} {c.correct}/{c.n}" for c in checks) or MISSING


def _verdict_cell(finding: Finding) -> str:
    """A finding's verdict with its effect (decided) or what the study could not detect (not shown)."""
    if finding.verdict in (REPRODUCES, DOES_NOT_REPRODUCE):
        return f"{finding.verdict}: {finding_effect(finding, mode_label)}"
    mdes = [c.mde for c in finding.cases if c.verdict == NOT_SHOWN and c.mde is not None]
    if finding.verdict == NOT_SHOWN and mdes:
        return f"{NOT_SHOWN} (MDE {min(mdes):.2f})"
    return finding.verdict


def _differ(outcomes: list[str]) -> str:
    """Whether the models' outcomes agree; a model without the row leaves it open."""
    if MISSING in outcomes:
        return MISSING
    kinds = {" ".join(w for w in o.replace(";", " ").split() if not w[0].isdigit()) for o in outcomes}
    return "yes" if len(kinds) == 1 else f"no: {DEPENDS}"


def cell_records(scores: Scores, model: str) -> list[dict]:
    """One record per (world, mode, split): its kind of question, items, accuracy (a free-form split's exact
    match) with its 95% CI, token F1 (free form only) and mean p(correct) (free form: of the likeliest accepted
    answer, per token)."""
    rows = []
    for (world, mode, split), accuracy in scores.accuracy.items():
        f1 = scores.f1.get((world, mode, split))
        probability = scores.probability.get((world, mode, split))
        rows.append({
            "model": model, "world": world, "mode": mode, "split": split,
            "kind": "free_form" if scores.free_form(world, split) else "multiple_choice",
            "control": split in scores.control_splits(world), "n": accuracy.n, "seeds": accuracy.seeds,
            "accuracy": json_number(accuracy.mean), "accuracy_ci_low": json_number(accuracy.low),
            "accuracy_ci_high": json_number(accuracy.high),
            "exact_match": json_number(accuracy.mean) if f1 is not None else None,
            "f1": json_number(f1.mean) if f1 else None, "f1_ci_low": json_number(f1.low) if f1 else None,
            "f1_ci_high": json_number(f1.high) if f1 else None,
            "p_correct": json_number(probability.mean) if probability else None,
            "chance": json_number(scores.chance.get((world, split))),
            # a fine-tuned cell is one fit per seed: each fit's own accuracy and p(correct) beside the pooled ones
            **(_per_fit(scores, world, mode, split) if fitted(mode) else {}),
            # whether the mode took in its facts (the learned check on the control splits), where it is checked
            **({"learned_check": _learned_check(scores, world, mode)} if (world, mode) in scores.learned else {}),
        })
    return rows


def _learned_check(scores: Scores, world: str, mode: str) -> str:
    """"passed", or why the cell's learned check failed."""
    check = scores.learned[(world, mode)]
    return check.failure() if check.invalidates else "passed"


def _per_fit(scores: Scores, world: str, mode: str, split: str) -> dict:
    cell = scores.cell(world, mode, split) or {}
    seeds = sorted(cell)
    return {"fits": len(seeds), "fit_seeds": seeds,
            "per_fit_accuracy": [json_number(float(cell[s].scores.mean())) for s in seeds],
            "per_fit_p_correct": [json_number(float(cell[s].p_correct.mean())) if cell[s].p_correct is not None else None
                                  for s in seeds]}


