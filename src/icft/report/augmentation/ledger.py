"""The augmentation ledger: each augmentation file of a study judged against its world, item by item.

Why augmented FT did or did not help, from stored files only: the augmentation files and their counts
(`<study>/augment/`, `icft.study.augmentations`), the worlds the study saved, and the per-item results. For
each strategy (the study's generator's local and global augmentations, the oracle's) and seed:
  generated, kept   sentences the generator wrote, those the filters kept, and each drop reason's count
  true / false / unparsed   of the kept: the world's reader (`icft.worlds.sentences`) turns a sentence into
                    claims, the closure of the stated facts decides them; a sentence it cannot read is unparsed
  new               of the kept: true and stating a claim no train document states (an inference, not a
                    restatement of a trained sentence)
  coverage          per test item: how many kept sentences state its correct answer (its correct options' claims)
Accuracy is then split by coverage: on the items the augmentations covered and on those they did not, for the
mode trained on them and for plain FT on the same items. `ledger_json` writes it all, item by item.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from icft.errors import IcftError
from icft.jsonl import read_jsonl
from icft.learn.modes import mode_spec
from icft.learn.augment import summary_path
from icft.report.grid.results import Scores, StudyResults
from icft.store.layout import CellKey, augment_file, oracle_augment_file, world_folder
from icft.study.augmentations import generator_name
from icft.study.cells import world_modes
from icft.study.config import StudyConfig, WorldSpec
from icft.worlds.io import load_world
from icft.worlds.schema import World
from icft.worlds.sentences import FALSE, TRUE, UNPARSED, Judge

LEDGER_FILE = "augmentation.json"
# each strategy and the mode that trains on it (documents + it alone)
STRATEGY_MODES = {"local": "ft-local", "global": "ft-global", "oracle-local": "ft-oracle-local",
                  "oracle-global": "ft-oracle-global"}
COUNTED = ("requests", "sentences", "kept")  # the rest of a file's counts are drop reasons


@dataclass(frozen=True)
class Ledger:
    """One augmentation file (one strategy, one seed) judged against its world."""

    strategy: str  # local, global, oracle-local, oracle-global
    label: str  # how the report names it: self-local, oracle-global, <generator>-local
    seed: int
    counts: dict[str, int]  # from the file's sidecar: sentences (generated), kept, each drop reason
    verdicts: dict[str, int]  # true, false, unparsed: over the kept sentences
    new: int  # kept sentences that are true and state a claim no train document states
    coverage: dict[str, int]  # item id -> kept sentences that state its correct answer
    splits: dict[str, str] = field(default_factory=dict)  # item id -> split
    mode: str = ""  # the mode trained on these augmentations (default: the strategy's own, as ft-local)

    def __post_init__(self):
        if not self.mode:
            object.__setattr__(self, "mode", STRATEGY_MODES[self.strategy])

    @property
    def drops(self) -> dict[str, int]:
        return {k: v for k, v in self.counts.items() if k not in COUNTED and v}


def judge_file(path: Path, world: World, strategy: str, label: str, seed: int, mode: str = "") -> Ledger:
    """Judge the kept sentences of an augmentation file against `world`; its counts come from its sidecar."""
    texts = [obj.get("text", "") for _, obj in read_jsonl(path)]
    counts = _counts(path, len(texts))
    judge = Judge(world)
    answers = _answers(world)
    verdicts, new, coverage = Counter({TRUE: 0, FALSE: 0, UNPARSED: 0}), 0, Counter()
    for text in texts:
        claims = judge.claims(text)
        verdicts[judge.verdict(claims)] += 1
        new += judge.is_new(claims)
        for item_id in {i for claim in claims or () for i in answers.get(claim, ())}:
            coverage[item_id] += 1  # a sentence counts once per item, however many of its claims answer it
    return Ledger(strategy, label, seed, counts, dict(verdicts), new,
                  {item.id: coverage[item.id] for item in world.items}, {item.id: item.split for item in world.items},
                  mode)


def study_ledgers(study: StudyResults, model: str) -> dict[str, list[Ledger]]:
    """world -> the ledger of every augmentation file its cells of `model` trained on (the curve's aside)."""
    out: dict[str, list[Ledger]] = {}
    for spec in study.config.worlds:
        strategies = strategies_of(study.config, spec)
        ledgers = []
        for seed in study.config.seeds:
            keys = {s: CellKey(spec.label, seed, model, trained_mode(study.config, spec, s)) for s in strategies}
            files = [(s, augmentation_file(study.folder, study.config, keys[s], s)) for s in strategies]
            files = [(s, path) for s, path in files if path.is_file()]
            world = saved_world(study.folder, spec, keys[files[0][0]]) if files else None  # one world per seed
            if world is None:
                continue
            ledgers += [judge_file(path, world, s, strategy_label(study.config, model, s), seed,
                                   trained_mode(study.config, spec, s)) for s, path in files]
        if ledgers:
            out[spec.label] = ledgers
    return out


def strategies_of(config: StudyConfig, spec: WorldSpec) -> list[str]:
    """The augmentation strategies a world's modes train on, in `STRATEGY_MODES` order (budgets aside)."""
    sources = {s for m in world_modes(config, spec) if mode_spec(m).per_fact is None for s in mode_spec(m).train_on}
    return [s for s in STRATEGY_MODES if s in sources]


def trained_mode(config: StudyConfig, spec: WorldSpec, strategy: str) -> str:
    """The world's mode that trains on `strategy`: its own (ft-local for local), else one that combines it."""
    modes = [m for m in world_modes(config, spec)
             if mode_spec(m).per_fact is None and strategy in mode_spec(m).train_on]
    return STRATEGY_MODES[strategy] if STRATEGY_MODES[strategy] in modes or not modes else modes[0]


def augmentation_file(folder: Path, config: StudyConfig, key: CellKey, strategy: str,
                      per_fact: int | None = None) -> Path:
    if strategy.startswith("oracle-"):
        return oracle_augment_file(folder, key, strategy, per_fact)
    return augment_file(folder, key, generator_name(config.augment, key.model), strategy)


def strategy_label(config: StudyConfig, model: str, strategy: str) -> str:
    """self-local (the model under study), oracle-local, or the generator's name ("gpt-x at URL-local")."""
    if strategy.startswith("oracle-"):
        return strategy
    spec = config.augment
    who = "self" if spec.generator == "self" and not spec.base_url else generator_name(spec, model)
    return f"{who}-{strategy}"


def saved_world(folder: Path, spec: WorldSpec, key: CellKey) -> World | None:
    """The world as the study saved it (or an imported world's folder); None when neither can be read."""
    for candidate in (world_folder(folder, key), spec.path):
        if candidate is not None and (Path(candidate) / "test.jsonl").is_file():
            try:
                return load_world(candidate)
            except IcftError:
                continue
    return None


def covered_accuracy(scores: Scores, world: str, mode: str, ledgers: list[Ledger], split: str,
                     covered: bool) -> tuple[int, int] | None:
    """(correct, items) of `mode` on the split's items the ledgers (one per seed) cover, or do not cover."""
    cell = scores.cell(world, mode, split)
    if cell is None:
        return None
    correct = total = 0
    for ledger in ledgers:
        items = cell.get(ledger.seed)
        if items is None:
            continue
        for item_id, score in zip(items.ids, items.scores):
            if (ledger.coverage.get(item_id, 0) > 0) == covered:
                correct += int(score)
                total += 1
    return correct, total


def ledger_json(study: StudyResults, ledgers: dict[str, dict[str, list[Ledger]]]) -> str:
    """Every ledger (model -> world -> ledgers), item by item: the file beside the report (`LEDGER_FILE`)."""
    out = {model: {world: [_ledger_record(study.scores[model], world, ledger) for ledger in world_ledgers]
                   for world, world_ledgers in by_world.items()}
           for model, by_world in ledgers.items()}
    return json.dumps(out, indent=1, ensure_ascii=False) + "\n"


def _ledger_record(scores: Scores, world: str, ledger: Ledger) -> dict:
    correct = {mode: _item_scores(scores, world, mode, ledger.seed) for mode in (ledger.mode, "ft")}
    items = {item_id: {"split": ledger.splits[item_id], "covering_sentences": n,
                       **{f"correct_{mode}": correct[mode].get(item_id) for mode in correct}}
             for item_id, n in ledger.coverage.items()}
    return {"strategy": ledger.strategy, "label": ledger.label, "seed": ledger.seed, "counts": ledger.counts,
            "verdicts": ledger.verdicts, "new": ledger.new, "items": items}


def _item_scores(scores: Scores, world: str, mode: str, seed: int) -> dict[str, bool]:
    out = {}
    for split in scores.splits(world):
        items = (scores.cell(world, mode, split) or {}).get(seed)
        if items is not None:
            out.update({i: bool(s) for i, s in zip(items.ids, items.scores)})
    return out


def _answers(world: World) -> dict[tuple, list[str]]:
    """Each correct option's claim (lower case, as sentences are read) -> the items it answers."""
    out: dict[tuple, list[str]] = {}
    for item in world.items:
        for n in sorted(item.correct):
            claim = item.claims[n] if item.claims else None
            if claim is not None:
                out.setdefault((claim[0].lower(), claim[1], claim[2].lower()), []).append(item.id)
    return out


def _counts(path: Path, kept: int) -> dict[str, int]:
    """The file's counts from its sidecar; a file without one counts only what it keeps."""
    sidecar = summary_path(path)
    if sidecar.is_file():
        try:
            return dict(json.loads(sidecar.read_text(encoding="utf-8"))["counts"])
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    return {"sentences": kept, "kept": kept}
