"""Free-form answers: SQuAD exact match and token F1, the answers' likelihood, and free-form items in a run."""

import math

import pytest

from icft.evaluate.free_form import answer_probability, squad_scores
from icft.evaluate.runner import evaluate_world, summary_table
from icft.evaluate.scoring import score_choices
from icft.learn.icl import build_icl_context
from icft.models.generation import generate
from icft.store import ResultsStore
from icft.worlds.schema import Document, Item, World
from tiny_models import tiny_model


@pytest.mark.parametrize("prediction, answers, exact, f1", [
    ("Imra Qell", ["Imra Qell"], True, 1.0),
    ("the Imra  Qell.", ["imra qell"], True, 1.0),  # case, articles, punctuation and spaces do not count
    ("Imra", ["Imra Qell"], False, 2 / 3),  # precision 1, recall 1/2
    ("Imra Qell of Parsk", ["Imra Qell"], False, 2 * (2 / 4) * 1 / (2 / 4 + 1)),  # precision 1/2, recall 1
    ("Tev Marro", ["Imra Qell"], False, 0.0),
    ("9", ["nine", "9"], True, 1.0),  # the best over the answer and its aliases
    ("Femlo", ["Femlo cell", "Femlo"], True, 1.0),
    ("", ["Femlo"], False, 0.0),
])
def test_squad_exact_match_and_f1_on_known_strings(prediction, answers, exact, f1):
    got_exact, got_f1 = squad_scores(prediction, answers)
    assert got_exact is exact and got_f1 == pytest.approx(f1)


def test_answer_probability_is_the_best_answers_per_token_probability():
    assert answer_probability([math.log(0.5) * 2], [2]) == pytest.approx(0.5)
    # answer 1: mean log p = log 0.25; answer 2: log 0.8 over 3 tokens wins
    assert answer_probability([math.log(0.25), 3 * math.log(0.8)], [1, 3]) == pytest.approx(0.8)
    with pytest.raises(ValueError):
        answer_probability([], [])


def _world() -> World:
    documents = [Document(id="d0", text="All glon are yomp. All troff are glon."),
                 Document(id="d1", text="femp are more dangerous than glon.")]
    items = [
        Item(id="free0", split="recall", prompt="All glon are", options=(), answer=0, answers=(" yomp", " yomps")),
        Item(id="mc0", split="recall", prompt="All troff are", options=(" glon", " femp"), answer=0),
        Item(id="free1", split="reversed", prompt="glon are less dangerous than", options=(), answer=0,
             answers=(" femp",)),
    ]
    return World(name="tiny-ff", seed=0, generator_version="1", sizes={}, documents=documents, items=items,
                 control_splits=("recall",))


@pytest.mark.parametrize("mode", ["pretrained", "icl"])
def test_free_form_items_store_the_greedy_answer_its_squad_scores_and_the_answers_likelihood(tmp_path, mode):
    loaded, world = tiny_model(seed=3), _world()
    with ResultsStore(tmp_path / "r.db") as store:
        summary = evaluate_world(loaded, world, "tiny-ff", mode, store, progress=False)
        rows = {row.item_id: row for row in store.item_rows(summary.run_id)}
    context = build_icl_context(world, loaded.tokenizer, 0) if mode == "icl" else None
    text, prompt = (context.context, context.prompt) if context else ("", lambda p: p)
    for item in (world.items[0], world.items[2]):
        row = rows[item.id]
        expected = generate(loaded, [prompt(item.prompt)], context=text, max_new_tokens=24, stop=["\n", ". "])[0]
        assert row.prediction == expected.strip() and row.free_form
        exact, f1 = squad_scores(row.prediction, [a.strip() for a in item.answers])
        assert (row.correct_sum, row.correct_mean, row.f1, row.chance) == (exact, exact, pytest.approx(f1), 0.0)
        scored = score_choices(loaded, [(prompt(item.prompt), item.answers)], context=text)[0]
        assert row.logprobs == pytest.approx(scored.logprobs) and row.n_tokens == scored.n_tokens
    assert rows["mc0"].prediction is None and rows["mc0"].f1 is None and rows["mc0"].chance == 0.5
    by_split = {s.split: s for s in summary.splits}
    assert by_split["reversed"].f1.mean == pytest.approx(rows["free1"].f1)
    assert by_split["recall"].f1.mean == pytest.approx(rows["free0"].f1)  # the multiple-choice item has no F1
    assert "token F1" in "".join(c.header for c in summary_table(summary).columns)


def test_a_given_answer_is_stored_with_its_exact_match_and_f1(tmp_path, monkeypatch):
    """From a generated answer to the stored exact match, F1 and split summary (the tiny model never says it)."""
    import icft.evaluate.runner as runner

    monkeypatch.setattr(runner, "generate", lambda loaded, prompts, **kwargs: [" Yomps and more"] * len(prompts))
    with ResultsStore(tmp_path / "r.db") as store:
        summary = evaluate_world(tiny_model(seed=3), _world(), "tiny-ff", "pretrained", store, progress=False)
        rows = {row.item_id: row for row in store.item_rows(summary.run_id)}
    assert rows["free0"].prediction == "Yomps and more" and not rows["free0"].correct_sum
    assert rows["free0"].f1 == pytest.approx(0.5)  # "yomps" of three words: precision 1/3, recall 1
    assert rows["free1"].f1 == 0.0
    monkeypatch.setattr(runner, "generate", lambda loaded, prompts, **kwargs: ["yomps"] * len(prompts))
    with ResultsStore(tmp_path / "r2.db") as store:
        summary = evaluate_world(tiny_model(seed=3), _world(), "tiny-ff", "pretrained", store, progress=False)
        row = {row.item_id: row for row in store.item_rows(summary.run_id)}["free0"]
    assert row.correct_sum and row.correct_mean and row.f1 == 1.0  # an alias matches exactly
