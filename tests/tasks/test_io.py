"""Reading a user's task: JSONL files and saved `datasets` folders, sampling, labels, and one-line errors."""

import json
import sys
from pathlib import Path

import pytest

from icft.errors import IcftError
from icft.study.config import load_study_config
from icft.tasks.io import TaskFileSpec
from icft.tasks.io import load_task, load_tasks

datasets = pytest.importorskip("datasets")

PRESET = Path(__file__).resolve().parents[2] / "configs" / "yang2024.toml"


def spec(**fields) -> TaskFileSpec:
    base = {"name": "sentiment", "domain": "toy", "kind": "classification", "instruction": "Label it."}
    return TaskFileSpec(**{**base, **fields})


def write_lines(path: Path, lines: list) -> Path:
    """Each item a line: a dict is written as JSON, a string as is (for malformed lines)."""
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines), encoding="utf-8")
    return path


def jsonl_pair(tmp_path: Path, n_train: int = 3) -> tuple[Path, Path]:
    train = write_lines(tmp_path / "train.jsonl", [
        {"input": f"review {i}", "output": "pos" if i % 2 else "neg"} for i in range(n_train)])
    test = write_lines(tmp_path / "test.jsonl", [{"input": "fine", "output": "pos"}, {"input": "bad", "output": "neg"}])
    return train, test


def save_dict(path: Path, splits: dict, features=None) -> Path:
    datasets.DatasetDict({name: datasets.Dataset.from_dict(columns, features=features)
                          for name, columns in splits.items()}).save_to_disk(str(path))
    return path


def sentiment_features():
    return datasets.Features({"text": datasets.Value("string"),
                              "label": datasets.ClassLabel(names=["negative", "positive"]),
                              "idx": datasets.Value("int64")})


# ---- JSONL -------------------------------------------------------------------------------------------------

def test_jsonl_task_keeps_order_ids_and_infers_sorted_labels(tmp_path):
    write_lines(tmp_path / "train.jsonl", [
        {"input": "great phone", "output": "pos", "id": "r-7"},
        "",  # a blank line is skipped but still counts for the line numbers of default ids
        {"input": "awful", "output": "neg"},
        {"input": "it works", "output": "meh"},
    ])
    write_lines(tmp_path / "test.jsonl", [{"input": "love it", "output": "pos"}, {"input": "broken", "output": "neg"}])
    task = load_task(spec(train="train.jsonl", test="test.jsonl"), base_dir=tmp_path)

    assert task.key == "sentiment/toy" and task.kind == "classification" and task.instruction == "Label it."
    assert [(e.id, e.input, e.output) for e in task.train] == [
        ("r-7", "great phone", "pos"), ("train-3", "awful", "neg"), ("train-4", "it works", "meh")]
    assert [e.id for e in task.test] == ["test-1", "test-2"]
    assert task.labels == ("meh", "neg", "pos")  # sorted set of train + test outputs


def test_given_labels_are_kept_in_their_order(tmp_path):
    train, test = jsonl_pair(tmp_path)
    task = load_task(spec(train=str(train), test=str(test), labels=["pos", "neg"]))
    assert task.labels == ("pos", "neg")


def test_generation_task_from_jsonl_has_no_labels(tmp_path):
    train, test = jsonl_pair(tmp_path)
    task = load_task(spec(kind="generation", train=str(train), test=str(test)))
    assert task.kind == "generation" and task.labels == ()
    assert task.train[0].output == "neg"


def test_relative_paths_resolve_against_base_dir_only_when_given(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    jsonl_pair(tmp_path / "cfg")
    relative = spec(train="train.jsonl", test="test.jsonl")
    assert len(load_task(relative, base_dir=tmp_path / "cfg").train) == 3
    monkeypatch.chdir(tmp_path)  # without base_dir the working directory counts: there is no train.jsonl here
    with pytest.raises(IcftError, match="train.jsonl is missing"):
        load_task(relative)


def test_max_train_is_a_deterministic_seeded_sample_in_original_order(tmp_path):
    train, test = jsonl_pair(tmp_path, n_train=40)
    limited = spec(kind="generation", train=str(train), test=str(test), max_train=10)
    first = [e.id for e in load_task(limited, seed=3).train]
    again = [e.id for e in load_task(limited, seed=3).train]

    all_ids = [f"train-{n}" for n in range(1, 41)]
    assert first == again and len(first) == 10 and len(set(first)) == 10
    assert first == sorted(first, key=all_ids.index)  # kept in file order
    assert first != all_ids[:10]  # a sample, not the head of the file
    others = {tuple(e.id for e in load_task(limited, seed=s).train) for s in range(4, 9)}
    assert any(ids != tuple(first) for ids in others)
    assert len(load_task(limited, seed=3).test) == 2  # max_test unset: every test example


def test_max_test_and_a_max_above_the_size_keep_everything_they_can(tmp_path):
    train, test = jsonl_pair(tmp_path, n_train=5)
    task = load_task(spec(kind="generation", train=str(train), test=str(test), max_train=50, max_test=1))
    assert [e.id for e in task.train] == [f"train-{n}" for n in range(1, 6)]
    assert len(task.test) == 1


@pytest.mark.parametrize("lines, message", [
    (['{"input": "a", "output": '], r"train\.jsonl:1: malformed JSON"),
    ([{"input": "a", "output": "pos"}, '["a", "pos"]'], r"train\.jsonl:2: each line must be a JSON object"),
    ([{"output": "pos"}], r"train\.jsonl:1: missing field 'input'"),
    ([{"input": "a", "output": "pos"}, {"input": "b"}], r"train\.jsonl:2: missing field 'output'"),
    ([{"input": "a", "output": 1}], r"train\.jsonl:1: field 'output' must be a non-empty string, got int"),
    ([{"input": "  ", "output": "pos"}], r"train\.jsonl:1: field 'input' must be a non-empty string"),
    ([{"input": "a", "output": "pos", "id": 7}], r"train\.jsonl:1: field 'id' must be a non-empty string"),
    ([], r"train\.jsonl holds no examples"),
])
def test_bad_jsonl_is_one_error_naming_file_line_and_field(tmp_path, lines, message):
    _, test = jsonl_pair(tmp_path)
    train = write_lines(tmp_path / "train.jsonl", lines)
    with pytest.raises(IcftError, match=message) as error:
        load_task(spec(train=str(train), test=str(test)))
    assert str(error.value).startswith("task sentiment/toy: ")
    assert "\n" not in str(error.value)


def test_missing_jsonl_file_is_named(tmp_path):
    _, test = jsonl_pair(tmp_path)
    with pytest.raises(IcftError, match=r"task sentiment/toy: .*nowhere\.jsonl is missing: check the path"):
        load_task(spec(train=str(tmp_path / "nowhere.jsonl"), test=str(test)))


def test_classification_output_outside_the_labels_is_an_error(tmp_path):
    train, test = jsonl_pair(tmp_path)
    with pytest.raises(IcftError, match=r"task sentiment/toy: example 'train-2' has output 'pos', which is not one"):
        load_task(spec(train=str(train), test=str(test), labels=["neg", "neutral"]))


# ---- saved datasets ----------------------------------------------------------------------------------------

def test_dataset_class_indices_become_classlabel_names(tmp_path):
    folder = save_dict(tmp_path / "sst", {
        "train": {"text": ["good", "bad", "fine"], "label": [1, 0, 1], "idx": [10, 11, 12]},
        "validation": {"text": ["great", "poor"], "label": [1, 0], "idx": [0, 1]},
    }, features=sentiment_features())
    task = load_task(spec(dataset=str(folder), input_field="text", output_field="label", test_split="validation"))

    assert task.labels == ("negative", "positive")
    assert [(e.id, e.input, e.output) for e in task.train] == [
        ("train-10", "good", "positive"), ("train-11", "bad", "negative"), ("train-12", "fine", "positive")]
    # GLUE-style `idx` restarts in each split: the split prefix keeps ids unique
    assert [(e.id, e.output) for e in task.test] == [("validation-0", "positive"), ("validation-1", "negative")]


def test_spec_labels_rename_the_classes(tmp_path):
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["1", "2"])})
    folder = save_dict(tmp_path / "yelp", {"train": {"text": ["meh", "yum"], "label": [0, 1]},
                                           "test": {"text": ["ok"], "label": [1]}}, features=features)
    task = load_task(spec(dataset=str(folder), input_field="text", output_field="label",
                          labels=["negative", "positive"]))
    assert task.labels == ("negative", "positive")
    assert [e.output for e in task.train] == ["negative", "positive"]
    assert [e.id for e in task.train] == ["train-0", "train-1"]  # no id column: the row number


def test_plain_integer_outputs_need_labels(tmp_path):
    folder = save_dict(tmp_path / "ints", {"train": {"text": ["a", "b"], "label": [0, 1]},
                                           "test": {"text": ["c"], "label": [1]}})
    with pytest.raises(IcftError, match=r"\[train\] row 0: field 'label' holds class indices but has no class "
                                        r"names: give `labels`"):
        load_task(spec(dataset=str(folder), input_field="text", output_field="label"))
    task = load_task(spec(dataset=str(folder), input_field="text", output_field="label", labels=["no", "yes"]))
    assert [e.output for e in task.train] == ["no", "yes"]


def test_dataset_generation_task_with_id_column_and_sampling(tmp_path):
    n = 30
    folder = save_dict(tmp_path / "xsum", {
        "train": {"document": [f"doc {i}" for i in range(n)], "summary": [f"sum {i}" for i in range(n)],
                  "id": [f"bbc{i}" for i in range(n)]},
        "test": {"document": ["d"], "summary": ["s"], "id": ["bbc99"]},
    })
    generation = spec(name="summary", domain="xsum", kind="generation", dataset=str(folder),
                      input_field="document", output_field="summary", max_train=5)
    task = load_task(generation, seed=1)
    assert task.labels == () and task.test[0].id == "test-bbc99"
    rows = [int(e.id.removeprefix("train-bbc")) for e in task.train]
    assert len(rows) == 5 and rows == sorted(rows)
    assert all(e.input == f"doc {r}" and e.output == f"sum {r}" for e, r in zip(task.train, rows))
    assert [e.id for e in load_task(generation, seed=1).train] == [e.id for e in task.train]


def test_dataset_string_outputs_infer_labels(tmp_path):
    folder = save_dict(tmp_path / "strs", {"train": {"text": ["a", "b"], "verdict": ["yes", "no"]},
                                           "test": {"text": ["c"], "verdict": ["yes"]}})
    task = load_task(spec(dataset=str(folder), input_field="text", output_field="verdict"))
    assert task.labels == ("no", "yes")


def test_datasets_not_installed_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now raises ImportError
    with pytest.raises(IcftError, match=r"needs the `datasets` package: pip install 'icft\[datasets\]'"):
        load_task(spec(dataset=str(tmp_path)))


def test_missing_dataset_folder_is_named(tmp_path):
    with pytest.raises(IcftError, match=r"task sentiment/toy: dataset folder .*nothing-here does not exist: "
                                        r"save one with"):
        load_task(spec(dataset=str(tmp_path / "nothing-here")))


def test_folder_that_is_not_a_saved_dataset(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    with pytest.raises(IcftError, match=r"junk is not a dataset saved with `save_to_disk`") as error:
        load_task(spec(dataset=str(tmp_path / "junk")))
    assert "\n" not in str(error.value)


def test_a_single_saved_dataset_is_not_a_datasetdict(tmp_path):
    datasets.Dataset.from_dict({"input": ["a"], "output": ["b"]}).save_to_disk(str(tmp_path / "one"))
    with pytest.raises(IcftError, match=r"holds a single Dataset, not a DatasetDict"):
        load_task(spec(dataset=str(tmp_path / "one")))


def test_missing_split_names_the_splits_there_are(tmp_path):
    folder = save_dict(tmp_path / "glue", {"train": {"input": ["a"], "output": ["x"]},
                                           "validation": {"input": ["b"], "output": ["y"]}})
    with pytest.raises(IcftError, match=r"has no split 'test' \(it has train, validation\): set `test_split`"):
        load_task(spec(kind="generation", dataset=str(folder)))


def test_same_train_and_test_split_is_refused(tmp_path):
    folder = save_dict(tmp_path / "d", {"train": {"input": ["a"], "output": ["x"]}})
    with pytest.raises(IcftError, match=r"train_split and test_split are both 'train'"):
        load_task(spec(kind="generation", dataset=str(folder), test_split="train"))


def test_missing_field_names_the_columns_there_are(tmp_path):
    folder = save_dict(tmp_path / "xsum", {"train": {"document": ["a"], "summary": ["x"]},
                                           "test": {"document": ["b"], "summary": ["y"]}})
    with pytest.raises(IcftError, match=r"\[train\] has no column 'input' \(columns: document, summary\): "
                                        r"set `input_field`"):
        load_task(spec(kind="generation", dataset=str(folder)))


def test_class_index_out_of_range(tmp_path):
    folder = save_dict(tmp_path / "d", {"train": {"text": ["a", "b"], "label": [0, 2]},
                                        "test": {"text": ["c"], "label": [1]}})
    with pytest.raises(IcftError, match=r"\[train\] row 1: field 'label' is class index 2, outside 0\.\.1"):
        load_task(spec(dataset=str(folder), input_field="text", output_field="label", labels=["no", "yes"]))


def test_glue_unlabeled_test_split_points_to_validation(tmp_path):
    folder = save_dict(tmp_path / "sst2", {
        "train": {"text": ["a", "b"], "label": [0, 1], "idx": [0, 1]},
        "test": {"text": ["c"], "label": [-1], "idx": [0]},
    }, features=sentiment_features())
    with pytest.raises(IcftError, match=r"\[test\] row 0: field 'label' is class index -1.*use a labeled split "
                                        r"such as 'validation'"):
        load_task(spec(dataset=str(folder), input_field="text", output_field="label"))


def test_label_count_must_match_the_classes(tmp_path):
    folder = save_dict(tmp_path / "d", {"train": {"text": ["a"], "label": [0], "idx": [0]},
                                        "test": {"text": ["b"], "label": [1], "idx": [0]}},
                       features=sentiment_features())
    with pytest.raises(IcftError, match=r"has 2 classes \['negative', 'positive'\] but `labels` names 3"):
        load_task(spec(dataset=str(folder), input_field="text", output_field="label", labels=["a", "b", "c"]))


def test_score_outputs_must_become_text(tmp_path):
    folder = save_dict(tmp_path / "stsb", {"train": {"input": ["a"], "label": [3.5]},
                                           "test": {"input": ["b"], "label": [1.0]}})
    with pytest.raises(IcftError, match=r"field 'label' must be text or a class index, got float 3\.5"):
        load_task(spec(dataset=str(folder), output_field="label", labels=["no", "yes"]))


def test_empty_dataset_input_names_the_row(tmp_path):
    folder = save_dict(tmp_path / "xsum", {"train": {"input": ["a", ""], "output": ["x", "y"]},
                                           "test": {"input": ["b"], "output": ["z"]}})
    with pytest.raises(IcftError, match=r"\[train\] row 1: field 'input' must be a non-empty string"):
        load_task(spec(kind="generation", dataset=str(folder)))


def test_class_indices_in_a_generation_task_are_refused(tmp_path):
    folder = save_dict(tmp_path / "d", {"train": {"input": ["a"], "label": [0], "idx": [0]},
                                        "test": {"input": ["b"], "label": [1], "idx": [0]}},
                       features=datasets.Features({"input": datasets.Value("string"),
                                                   "label": datasets.ClassLabel(names=["n", "y"]),
                                                   "idx": datasets.Value("int64")}))
    with pytest.raises(IcftError, match=r"holds class indices but the task's kind is generation"):
        load_task(spec(kind="generation", dataset=str(folder), output_field="label"))


# ---- several tasks, and the Yang et al. preset -------------------------------------------------------------

def test_load_tasks_loads_each_and_rejects_a_repeated_key(tmp_path):
    train, test = jsonl_pair(tmp_path)
    one = spec(train=str(train), test=str(test))
    other = spec(domain="other", train=str(train), test=str(test))
    assert [t.key for t in load_tasks([one, other])] == ["sentiment/toy", "sentiment/other"]
    with pytest.raises(IcftError, match=r"two tasks are named sentiment/toy"):
        load_tasks([one, other, one])


def test_yang2024_preset_parses_and_names_its_training_tasks():
    config = load_study_config(PRESET)
    transfer = config.transfer
    assert config.kind == "transfer" and transfer.builtin_domains == []
    assert transfer.train_sizes == [2000, 4000, 6000] and transfer.variants == ["ft", "fticl"]
    assert config.finetune.epochs == 2
    keys = {f"{t.name}/{t.domain}" for t in transfer.tasks}
    assert len(keys) == len(transfer.tasks) == 15
    assert all(t.dataset and t.train is None and t.test is None for t in transfer.tasks)
    assert transfer.train and set(transfer.train) <= keys
    assert {key.split("/")[0] for key in keys} == {"summary", "question", "sentiment", "paraphrase", "nli"}
    for task in transfer.tasks:  # enough rows sampled for the largest training run and the scored test set
        if f"{task.name}/{task.domain}" in transfer.train:
            assert task.max_train >= max(transfer.train_sizes)
        assert task.max_test >= transfer.test_examples
        assert (task.kind == "classification") == bool(task.labels)
