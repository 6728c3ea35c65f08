"""A user's task (`TaskFileSpec`, a study config's `[[transfer.tasks]]`) read into a `Task`: from JSONL files or a
`datasets` folder.

JSONL: one {"input": str, "output": str, "id"?: str} object a line; ids default to "train-{line}" and
"test-{line}". A `datasets` folder (`DatasetDict.save_to_disk`) gives its `train_split` and `test_split`, read
from `input_field` and `output_field`. An integer output is a class index, named by the spec's `labels` or else
by the column's `ClassLabel` names (which then become the task's labels). Dataset ids are "{split}-{id}" from an
`id` or `idx` column, else "{split}-{row}": GLUE's `idx` restarts at 0 in every split, and ids must be unique
across train and test.

`max_train` / `max_test` keep a seeded random sample of that many examples (`random.Random(seed)`, one fresh
generator per split), in their original order: the same seed always keeps the same examples. A classification
task with no `labels` and text outputs gets the sorted set of outputs it holds. Every problem is one `IcftError`
line naming the task, the file (line, row, field) and the fix.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from icft.errors import IcftError
from icft.jsonl import read_jsonl
from icft.tasks.schema import Task, TaskExample

ID_COLUMNS = ("id", "idx")  # the first one a dataset has names its examples
GLUE_UNLABELED = -1  # GLUE's test splits hide their labels as -1


class TaskFileSpec(BaseModel):
    """A user's task: examples from JSONL files (`train`, `test`) or from a `datasets` folder (`dataset`).

    JSONL lines are {"input": ..., "output": ..., "id"?: ...}; a saved dataset (`datasets.load_from_disk`)
    gives its `train_split` and `test_split`, reading `input_field` and `output_field` (an integer class
    label is turned into its name by `labels`, or by the dataset's ClassLabel names). A study config's
    `[[transfer.tasks]]` entry is one (validated with the rest of the config).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    domain: str
    kind: Literal["classification", "generation"]
    instruction: str
    labels: list[str] = Field(default_factory=list)
    train: str | None = None
    test: str | None = None
    dataset: str | None = None
    input_field: str = "input"
    output_field: str = "output"
    train_split: str = "train"
    test_split: str = "test"
    max_train: int | None = Field(None, ge=1)  # keep at most this many train examples (seeded shuffle)
    max_test: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_source(self):
        if (self.dataset is None) == (self.train is None and self.test is None):
            raise ValueError(f"task {self.name}/{self.domain} needs either `dataset` or both `train` and `test`")
        if self.dataset is None and (self.train is None or self.test is None):
            raise ValueError(f"task {self.name}/{self.domain} needs both `train` and `test` JSONL files")
        return self


def load_task(spec: TaskFileSpec, base_dir: Path | None = None, seed: int = 0) -> Task:
    """The task `spec` describes; relative paths resolve against `base_dir` (the config's folder) when given."""
    key = f"{spec.name}/{spec.domain}"
    try:
        if spec.dataset is not None:
            train, test, class_names = _from_dataset(spec, _resolve(spec.dataset, base_dir), seed)
        else:
            train = _from_jsonl(_resolve(spec.train, base_dir), "train", spec.max_train, seed)
            test = _from_jsonl(_resolve(spec.test, base_dir), "test", spec.max_test, seed)
            class_names = ()
    except IcftError as e:  # file-level messages do not know which task asked: say it
        raise IcftError(f"task {key}: {e}") from None
    labels = tuple(spec.labels) or class_names
    if spec.kind == "classification" and not labels:
        labels = tuple(sorted({e.output for e in (*train, *test)}))
    return Task(name=spec.name, domain=spec.domain, kind=spec.kind, instruction=spec.instruction,
                train=train, test=test, labels=labels)


def load_tasks(specs: Iterable[TaskFileSpec], base_dir: Path | None = None, seed: int = 0) -> list[Task]:
    """`load_task` for each spec; two specs with the same name/domain are an error (results would collide)."""
    specs = list(specs)
    seen: set[str] = set()
    for spec in specs:  # checked before any loading: a duplicate should not cost a slow dataset read
        key = f"{spec.name}/{spec.domain}"
        if key in seen:
            raise IcftError(f"two tasks are named {key}: give each [[transfer.tasks]] entry its own name/domain")
        seen.add(key)
    return [load_task(spec, base_dir, seed) for spec in specs]


def _resolve(path: str, base_dir: Path | None) -> Path:
    resolved = Path(path).expanduser()
    return Path(base_dir) / resolved if base_dir is not None and not resolved.is_absolute() else resolved


def _sample(n: int, keep: int | None, seed: int) -> list[int]:
    """Indices of the examples to keep: all, or a seeded sample of `keep`, in their original order."""
    if keep is None or keep >= n:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), keep))


def _from_jsonl(path: Path, part: str, keep: int | None, seed: int) -> tuple[TaskExample, ...]:
    rows = read_jsonl(path)  # names the file and line of malformed JSON or a non-object line
    if not rows:
        raise IcftError(f"{path} holds no examples: write one {{\"input\": ..., \"output\": ...}} object a line")
    examples = []
    for line, obj in rows:
        for field in ("input", "output"):
            if field not in obj:
                raise IcftError(f"{path}:{line}: missing field '{field}'; each line needs \"input\" and \"output\"")
            value = obj[field]
            if not isinstance(value, str) or not value.strip():
                raise IcftError(f"{path}:{line}: field '{field}' must be a non-empty string, "
                                f"got {type(value).__name__} {value!r}")
        example_id = obj.get("id", f"{part}-{line}")
        if not isinstance(example_id, str) or not example_id:
            raise IcftError(f"{path}:{line}: field 'id' must be a non-empty string (or left out)")
        examples.append(TaskExample(id=example_id, input=obj["input"], output=obj["output"]))
    return tuple(examples[i] for i in _sample(len(examples), keep, seed))


def _from_dataset(spec: TaskFileSpec, path: Path, seed: int):
    """(train, test, class names) from a saved DatasetDict; class names are () unless the output is ClassLabel."""
    datasets = _import_datasets()
    if not path.exists():
        raise IcftError(f"dataset folder {path} does not exist: save one with "
                        f"`load_dataset(...).save_to_disk('{path}')` or fix `dataset`")
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as e:  # whatever load_from_disk trips on, the folder is not a readable saved dataset
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise IcftError(f"{path} is not a dataset saved with `save_to_disk` ({reason}): "
                        f"save one with `load_dataset(...).save_to_disk('{path}')`") from None
    if not isinstance(loaded, datasets.DatasetDict):
        raise IcftError(f"{path} holds a single Dataset, not a DatasetDict: save "
                        f"DatasetDict({{'{spec.train_split}': ..., '{spec.test_split}': ...}}) instead")
    if spec.train_split == spec.test_split:
        raise IcftError(f"train_split and test_split are both {spec.train_split!r}: test examples must not be "
                        "trained on; name two different splits")
    for split, key in ((spec.train_split, "train_split"), (spec.test_split, "test_split")):
        if split not in loaded:
            raise IcftError(f"{path} has no split {split!r} (it has {', '.join(loaded)}): set `{key}`")
        for field, field_key in ((spec.input_field, "input_field"), (spec.output_field, "output_field")):
            if field not in loaded[split].column_names:
                raise IcftError(f"{path} [{split}] has no column {field!r} (columns: "
                                f"{', '.join(loaded[split].column_names)}): set `{field_key}`")
    feature = loaded[spec.train_split].features[spec.output_field]
    names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else []
    if spec.labels and names and len(spec.labels) != len(names):
        raise IcftError(f"{path}: column {spec.output_field!r} has {len(names)} classes {names} but `labels` "
                        f"names {len(spec.labels)}: give one label per class, in class order")
    class_names = list(spec.labels) or names
    train = _dataset_examples(loaded[spec.train_split], spec, path, spec.train_split, spec.max_train, seed,
                              class_names)
    test = _dataset_examples(loaded[spec.test_split], spec, path, spec.test_split, spec.max_test, seed,
                             class_names)
    return train, test, tuple(names)  # load_task prefers the spec's labels


def _dataset_examples(split_data, spec: TaskFileSpec, path: Path, split: str, keep: int | None, seed: int,
                      class_names: list[str]) -> tuple[TaskExample, ...]:
    if len(split_data) == 0:
        raise IcftError(f"{path} [{split}] holds no examples: save a split with at least one row")
    id_column = next((c for c in ID_COLUMNS if c in split_data.column_names), None)
    columns = list(dict.fromkeys([spec.input_field, spec.output_field, *([id_column] if id_column else [])]))
    rows = _sample(len(split_data), keep, seed)
    # only the kept rows and columns are decoded: a 3.6M-review dataset costs the same as its sample
    subset = split_data.select_columns(columns)
    if len(rows) < len(split_data):
        subset = subset.select(rows)
    examples = []
    for row, record in zip(rows, subset):
        where = f"{path} [{split}] row {row}"
        text = record[spec.input_field]
        if not isinstance(text, str) or not text.strip():
            raise IcftError(f"{where}: field {spec.input_field!r} must be a non-empty string, "
                            f"got {type(text).__name__} {text!r}")
        output = _output_text(record[spec.output_field], spec, where, class_names)
        example_id = f"{split}-{record[id_column]}" if id_column else f"{split}-{row}"
        examples.append(TaskExample(id=example_id, input=text, output=output))
    return tuple(examples)


def _output_text(value, spec: TaskFileSpec, where: str, class_names: list[str]) -> str:
    """The output as text: a string as is, a class index as its name."""
    field = spec.output_field
    if isinstance(value, str):
        if not value.strip():
            raise IcftError(f"{where}: field {field!r} is empty")
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise IcftError(f"{where}: field {field!r} must be text or a class index, got {type(value).__name__} "
                        f"{value!r}: turn it into text before saving (e.g. map scores to labels)")
    if spec.kind == "generation":
        raise IcftError(f"{where}: field {field!r} holds class indices but the task's kind is generation: "
                        "use kind = \"classification\" or a text column")
    if not class_names:
        raise IcftError(f"{where}: field {field!r} holds class indices but has no class names: "
                        "give `labels` (one per class, in class order)")
    if not 0 <= value < len(class_names):
        hint = (" (-1 marks an unlabeled example, as in GLUE test splits: use a labeled split such as "
                "'validation' for `test_split`)" if value == GLUE_UNLABELED else "")
        raise IcftError(f"{where}: field {field!r} is class index {value}, outside 0..{len(class_names) - 1} "
                        f"of the labels {class_names}{hint}")
    return class_names[value]


def _import_datasets():
    try:
        import datasets
    except ImportError:
        raise IcftError("reading a `dataset` folder needs the `datasets` package: "
                        "pip install 'icft[datasets]'") from None
    return datasets
