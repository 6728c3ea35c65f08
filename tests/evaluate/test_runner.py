import pytest
from rich.console import Console

from icft.errors import IcftError
from icft.evaluate import runner
from icft.commands.evaluate import run_eval_command
from icft.evaluate.runner import evaluate_world, summary_table
from icft.store import ResultsStore
from icft.worlds.io import save_world
from icft.worlds.schema import Document, Item, World
from tiny_models import tiny_model

REAL_SCORER = runner.score_choices


def _world() -> World:
    names = ["femp", "glon", "yomp", "troff"]
    documents = [Document(id=f"d{n}", text=f"{a} are more dangerous than {b}.")
                 for n, (a, b) in enumerate(zip(names, names[1:] + names[:1]))]
    items = []
    for n, (a, b) in enumerate(zip(names, names[1:] + names[:1])):
        items.append(Item(id=f"rev{n}", split="reversal", prompt=f"{b} are less dangerous than",
                          options=(f" {a}", f" {names[(n + 2) % 4]}"), answer=0))
    for n in range(2):
        items.append(Item(id=f"syl{n}", split="syllogism", prompt=f"All {names[n]} are",
                          options=(" glon", " yomp", " troff", " blick"), answer=n + 1, also_correct=(3,)))
    return World(name="tiny", seed=0, generator_version="1", sizes={"facts": 4}, documents=documents, items=items)


class CountingScorer:
    """Wraps the real scorer: counts the items it scores, records contexts, and can fail on a given call."""

    def __init__(self, fail_on_call: int | None = None):
        self.calls, self.items, self.contexts, self.prompts = 0, 0, [], []
        self.fail_on_call = fail_on_call

    def __call__(self, loaded, requests, context="", **kwargs):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("simulated interruption")
        self.items += len(requests)
        self.contexts.append(context)
        self.prompts.extend(prompt for prompt, _ in requests)
        return REAL_SCORER(loaded, requests, context=context, **kwargs)


@pytest.fixture(scope="module")
def loaded():
    return tiny_model()


def _scorer(monkeypatch, **kwargs) -> CountingScorer:
    scorer = CountingScorer(**kwargs)
    monkeypatch.setattr(runner, "score_choices", scorer)
    return scorer


def test_pretrained_run_scores_every_item_once(loaded, tmp_path, monkeypatch):
    scorer = _scorer(monkeypatch)
    world = _world()
    with ResultsStore(tmp_path / "r.db") as store:
        summary = evaluate_world(loaded, world, "tiny", "pretrained", store, batch_items=4, progress=False)
        assert scorer.items == 6 and scorer.calls == 2 and scorer.contexts == ["", ""]
        assert scorer.prompts == [item.prompt for item in world.items]
        assert store.run_status(summary.run_id) == "finished"
        rows = store.item_rows(summary.run_id)
    assert [s.split for s in summary.splits] == ["reversal", "syllogism"]
    assert [s.n for s in summary.splits] == [4, 2]
    assert [s.chance for s in summary.splits] == [0.5, 0.5]
    assert summary.n_scored == 6 and summary.config == {"control_splits": []}  # the tiny world names none
    for row, item in zip(rows, world.items):
        assert len(row.logprobs) == len(item.options) and all(lp < 0 for lp in row.logprobs)
        assert row.correct_sum == (row.chosen_sum in item.correct)
    reversal = summary.splits[0]
    assert reversal.accuracy_sum.mean == sum(r.correct_sum for r in rows[:4]) / 4
    assert reversal.accuracy_sum.low <= reversal.accuracy_sum.mean <= reversal.accuracy_sum.high


def test_finished_run_is_not_recomputed(loaded, tmp_path, monkeypatch):
    with ResultsStore(tmp_path / "r.db") as store:
        first = evaluate_world(loaded, _world(), "tiny", "pretrained", store, progress=False)
        scorer = _scorer(monkeypatch)
        again = evaluate_world(loaded, _world(), "tiny", "pretrained", store, progress=False)
    assert scorer.calls == 0 and again.n_scored == 0
    assert again.splits == first.splits and again.run_id == first.run_id


def test_interrupted_run_resumes_with_the_missing_items_only(loaded, tmp_path, monkeypatch):
    options = dict(seed=1, subsample=0.75, batch_items=2, progress=False)
    with ResultsStore(tmp_path / "whole.db") as store:
        whole = evaluate_world(loaded, _world(), "tiny", "icl", store, **options)
        whole_rows = store.item_rows(whole.run_id)

    interrupted = _scorer(monkeypatch, fail_on_call=2)
    with ResultsStore(tmp_path / "resumed.db") as store:
        with pytest.raises(KeyboardInterrupt):
            evaluate_world(loaded, _world(), "tiny", "icl", store, **options)
        run_id = store.runs()[0].run_id
        assert store.run_status(run_id) == "running" and len(store.done_item_ids(run_id)) == 2
        assert interrupted.items == 2

        resumed = _scorer(monkeypatch)
        summary = evaluate_world(loaded, _world(), "tiny", "icl", store, **options)
        assert resumed.items == 4 and summary.n_scored == 4
        assert summary.run_id == run_id == whole.run_id
        resumed_rows = {r.item_id: r for r in store.item_rows(run_id)}
    assert summary.splits == whole.splits
    for row in whole_rows:
        other = resumed_rows[row.item_id]
        assert (other.chosen_sum, other.chosen_mean, other.n_tokens) == (row.chosen_sum, row.chosen_mean, row.n_tokens)
        assert other.logprobs == pytest.approx(row.logprobs, abs=1e-4)


def test_icl_scores_after_the_documents(loaded, tmp_path, monkeypatch):
    scorer = _scorer(monkeypatch)
    world = _world()
    with ResultsStore(tmp_path / "r.db") as store:
        plain = evaluate_world(loaded, world, "tiny", "icl", store, progress=False)
        chat = evaluate_world(loaded, world, "tiny", "icl", store, template="chat", progress=False)
        pretrained = evaluate_world(loaded, world, "tiny", "pretrained", store, progress=False)
        assert len(store.runs()) == 3
    assert len({plain.run_id, chat.run_id, pretrained.run_id}) == 3
    plain_context, chat_context, no_context = scorer.contexts
    assert no_context == ""
    assert all(doc.text in plain_context and doc.text in chat_context for doc in world.documents)
    assert chat_context.startswith("<|im_start|>user\n")
    assert scorer.prompts[6] == "<|im_end|>\n<|im_start|>assistant\n" + world.items[0].prompt
    assert plain.config == {"subsample": 1.0, "template": "plain", "control_splits": []}


def test_bad_mode_and_options_are_errors(loaded, tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(IcftError, match="unknown mode 'fine-tune'.*pretrained, icl, ft"):
            evaluate_world(loaded, _world(), "tiny", "fine-tune", store, progress=False)
        with pytest.raises(IcftError, match="mode 'ft' scores a fine-tuned model"):
            evaluate_world(loaded, _world(), "tiny", "ft", store, progress=False)
        with pytest.raises(IcftError, match="icl only"):
            evaluate_world(loaded, _world(), "tiny", "pretrained", store, subsample=0.5, progress=False)
        assert store.runs() == []


def test_too_long_context_fails_before_scoring(tmp_path, monkeypatch):
    scorer = _scorer(monkeypatch)
    short = tiny_model(context=48)
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(IcftError, match=r"context is \d+ tokens and the longest item needs \d+ more.*window of 48"):
            evaluate_world(short, _world(), "tiny", "icl", store, progress=False)
    assert scorer.calls == 0


def test_table_and_command(loaded, tmp_path):
    world_dir = save_world(_world(), tmp_path / "world")
    model_dir = tmp_path / "model"
    loaded.model.save_pretrained(model_dir)
    loaded.tokenizer.save_pretrained(model_dir)
    console = Console(record=True, width=150)
    summary = run_eval_command(world_dir, str(model_dir), "icl", tmp_path / "r.db", seed=0, subsample=0.5,
                               console=console)
    text = console.export_text()
    assert "reversal" in text and "syllogism" in text and "chance" in text and "0.50" in text
    assert summary.splits[0].n == 4
    again = run_eval_command(world_dir, str(model_dir), "icl", tmp_path / "r.db", seed=0, subsample=0.5,
                             console=console)
    assert again.n_scored == 0 and "nothing recomputed" in console.export_text()
    assert summary_table(again).row_count == 2
