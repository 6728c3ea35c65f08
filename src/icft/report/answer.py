"""What a report says first, and what it writes for machines: the answer in five lines, and findings.json.

The answer, per model: which mode generalizes best on each kind of split, what the learned check says, and
which findings reproduce (with the effect and its 95% CI), which do not, and which cannot be told apart at
this size. With several models (a study of two, or `icft report --compare`) the answer also puts their
verdicts side by side (`verdicts_by_model`), so a reader sees where the answer depends on the model.
findings.json holds every finding and every case with its numbers (see `case_record`), and every cell's
scores (`cell_records`): accuracy (exact match on a free-form split, beside its token F1) and p(correct).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable

from icft.evaluate.learned import gets_facts, rule_text
from icft.evaluate.stats import ALPHA, ASSUMED_DISCORDANCE, ASSUMED_FIT_SD, ASSUMED_PROB_SD, POWER, PRIMARY_METRIC
from icft.learn.modes import fitted, is_mode, mode_label, mode_spec
from icft.report.cases import Case, claim_text, primary
from icft.report.findings import (
    DOES_NOT_REPRODUCE, INVALID, MARGIN, NOT_SHOWN, NOT_TESTED, OPTION_BIAS, REPRODUCES, Finding,
)
from icft.report.results import Scores
from icft.report.tables import MISSING, Table
from icft.report.where import SplitAnswer, answer_line, split_answers

FINDINGS_FILE = "findings.json"
DEPENDS = "depends on the model"


def answer_lines(scores: Scores, findings: list[Finding]) -> list[str]:
    """At most six lines: where the knowledge should go per split of the worlds findings 2-8 do not name (tested,
    `icft.report.where`), the best mode per split of the others, the learned check, then the findings."""
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
    none is named. Worlds in `skip` are answered by a test instead (`icft.report.where`)."""
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


def findings_summary(findings: list[Finding], label: Callable[[str], str] = mode_label) -> list[str]:
    """Three lines: what reproduces (with its effect), what does not, and what cannot be told (not shown, not
    tested, invalid);
    `label` names the modes (or variants)."""
    def listed(verdict: str) -> list[Finding]:
        return [f for f in findings if f.verdict == verdict]

    yes = "; ".join(f"{f.number} ({_effect(f, label)})" for f in listed(REPRODUCES)) or "none"
    no = [f"{f.number} ({_effect(f, label)})" for f in listed(DOES_NOT_REPRODUCE)]
    invalid = listed(INVALID)
    unclear = listed(NOT_SHOWN)
    mdes = [c.mde for f in unclear for c in f.cases if c.verdict == NOT_SHOWN and c.mde is not None]
    told = (f"Not shown at this size: {', '.join(str(f.number) for f in unclear)}"
            + (f" (effects below {min(mdes):.2f}–{max(mdes):.2f} cannot be detected here)" if mdes else "")
            if unclear else "Not shown at this size: none")
    missing = listed(NOT_TESTED)
    if missing:
        told += f"; not tested: {', '.join(str(f.number) for f in missing)}"
    if invalid:  # a fine-tuned model they compare did not learn its facts: neither a yes nor a no
        told += f"; invalid ({_invalid_sides(invalid, label)}): {', '.join(str(f.number) for f in invalid)}"
    return [f"Findings that reproduce: {yes}.", f"Do not reproduce: {'; '.join(no) or 'none'}.", told + "."]


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
        return f"{finding.verdict}: {_effect(finding, mode_label)}"
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


def findings_json(name: str, kind: str, findings: dict[str, list[Finding]],
                  scores: dict[str, Scores] | None = None,
                  answers: dict[str, list[SplitAnswer]] | None = None) -> str:
    """findings.json: the rules' settings, then every finding of every model with all its cases, then (given
    `scores`) every cell's scores, then (worlds findings 2-8 do not name) the answer per split, where the
    knowledge should go."""
    record = {
        "study": name, "kind": kind, "alpha": ALPHA, "power": POWER, "margin": MARGIN,
        "assumed_discordance_before_a_run": ASSUMED_DISCORDANCE,
        "primary_metric": PRIMARY_METRIC, "assumed_p_correct_sd_before_a_run": ASSUMED_PROB_SD,
        "assumed_between_fit_sd_before_a_run_or_with_one_fit": ASSUMED_FIT_SD,
        "learned_check": rule_text(),
        "findings": [{"model": model, "number": f.number, "claim": f.claim, "verdict": f.verdict,
                      "sentence": f.sentence, "cases": [case_record(c, model) for c in f.cases]}
                     for model, found in findings.items() for f in found],
    }
    if scores is not None:
        record["cells"] = [row for model, model_scores in scores.items() for row in cell_records(model_scores, model)]
    if answers and any(answers.values()):
        record["answers"] = [a.record(model) for model, found in answers.items() for a in found]
    return json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


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
            "accuracy": _number(accuracy.mean), "accuracy_ci_low": _number(accuracy.low),
            "accuracy_ci_high": _number(accuracy.high),
            "exact_match": _number(accuracy.mean) if f1 is not None else None,
            "f1": _number(f1.mean) if f1 else None, "f1_ci_low": _number(f1.low) if f1 else None,
            "f1_ci_high": _number(f1.high) if f1 else None,
            "p_correct": _number(probability.mean) if probability else None,
            "chance": _number(scores.chance.get((world, split))),
            # a fine-tuned cell is one fit per seed: each fit's own accuracy and p(correct) beside the pooled ones
            **(_per_fit(scores, world, mode, split) if fitted(mode) else {}),
        })
    return rows


def _per_fit(scores: Scores, world: str, mode: str, split: str) -> dict:
    cell = scores.cell(world, mode, split) or {}
    seeds = sorted(cell)
    return {"fits": len(seeds), "fit_seeds": seeds,
            "per_fit_accuracy": [_number(float(cell[s].scores.mean())) for s in seeds],
            "per_fit_p_correct": [_number(float(cell[s].p_correct.mean())) if cell[s].p_correct is not None else None
                                  for s in seeds]}


def case_record(case: Case, model: str) -> dict:
    """One case as JSON: `diff` is A - B (mean over seeds of the mean paired item difference), or A - chance,
    or the difference of normalized gains; b and c are the discordant counts (A right and B wrong, and the
    reverse); ci_low and ci_high its 95% interval (90% against chance, as TOST uses)."""
    prob, accuracy, known = case.prob, case.accuracy, case.known
    return {
        "finding": case.finding, "claim": case.claim, "model": model, "world": case.world, "split": case.split,
        "mode_a": case.a, "mode_b": case.b, "world_b": case.world_b, "split_b": case.split_b,
        "train_size": case.size, "seeds": case.seeds, "n": case.n, "b": case.discordant_b, "c": case.discordant_c,
        "diff": _number(case.diff), "ci_low": _number(case.ci_low), "ci_high": _number(case.ci_high),
        "p": _number(case.p), "p_holm": _number(case.p_holm), "mde": _number(case.mde), "margin": case.margin,
        "verdict": case.verdict, "note": case.note,
        "p_correct_diff": _number(prob.diff) if prob else None,
        "p_correct_ci_low": _number(prob.low) if prob else None,
        "p_correct_ci_high": _number(prob.high) if prob else None,
        "metric": case.metric if case.b is not None and case.world_b is None else "accuracy",
        "accuracy_diff": _number(accuracy.diff) if accuracy else None,
        "accuracy_ci_low": _number(accuracy.low) if accuracy else None,
        "accuracy_ci_high": _number(accuracy.high) if accuracy else None,
        "accuracy_p": _number(accuracy.p) if accuracy else None,
        "accuracy_mde": _number(accuracy.mde) if accuracy else None,
        # on the items whose facts both modes know (their control items answered), in the case's metric
        "known_n": known.n if known else None,
        "known_diff": _number(known.diff) if known else None,
        "known_ci_low": _number(known.low) if known else None,
        "known_ci_high": _number(known.high) if known else None,
        "known_p": _number(known.p) if known else None,
        # the fit as a sampled unit (a fine-tuned side): each fit's (seed's) difference in the case's metric, and
        # the between-fit variance its interval and p count (assumed where there is one fit)
        **_fit_record(case),
    }


def _fit_record(case: Case) -> dict:
    found = primary(case) if case.b is not None and case.world_b is None else None
    if found is None or found.between_fit_var is None:
        return {"fits": None, "per_fit_diff": None, "between_fit_var": None, "between_fit_var_assumed": None}
    return {"fits": len(found.per_fit), "per_fit_diff": [_number(d) for d in found.per_fit],
            "between_fit_var": _number(found.between_fit_var), "between_fit_var_assumed": found.fit_var_assumed}


def _effect(finding: Finding, label: Callable[[str], str]) -> str:
    """The effect of a decided finding: its first case with that verdict (and how many more cases)."""
    same = [c for c in finding.cases
            if c.verdict == finding.verdict or (finding.verdict == REPRODUCES and c.verdict == OPTION_BIAS)]
    if finding.verdict == INVALID or not same or same[0].diff is None:
        return finding.verdict
    case = same[0]
    more = f", +{len(same) - 1} more" if len(same) > 1 else ""
    return f"{claim_text(case, label)} on {case.where}: {case.diff:+.2f} [{case.ci_low:+.2f}, {case.ci_high:+.2f}]{more}"


def _invalid_sides(findings: list[Finding], label: Callable[[str], str]) -> str:
    """Which side failed its learned check in the invalid findings: "ICL did not read the facts", ..."""
    sides = dict.fromkeys(c.note.removeprefix("invalid: ").split(" (")[0] for f in findings for c in f.cases
                          if c.verdict == INVALID and c.note)
    return "; ".join(sides) or "a side did not take in its facts"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _number(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)
