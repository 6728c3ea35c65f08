"""The filters of generated augmentations: cleaning completions, the world's words, and each drop reason."""

from __future__ import annotations

from test_augment import tiny_world

from icft.learn.augment.filters import (
    SentenceFilter,
    clean_completion,
    mentions_world_term,
    unknown_words,
    world_vocabulary,
)
from icft.worlds.schema import Document, Fact, World


def test_clean_completion_strips_numbering_bullets_labels_and_quotes():
    raw = (
        '1. glon are big\n  - **Step 2: "tuvir are small."**\n\n'
        "(a) Inferences: pevab eat ukal. feran run.\nStatement: x"
    )
    assert clean_completion(raw, stop=("\nStatement:",)) == [
        "glon are big.", "tuvir are small.", "pevab eat ukal.", "feran run."
    ]
    assert clean_completion("2.\nInferences:") == ["", ""]  # counted as empty, not silently lost


def test_world_vocabulary_and_world_terms():
    vocabulary = world_vocabulary(tiny_world())
    assert {"tuvir", "pevab", "feran", "ukal"} <= vocabulary
    assert not vocabulary & {"scientists", "report", "about", "this", "dangerous"}
    assert mentions_world_term("Some Tuvirs bite.", vocabulary)
    assert not mentions_world_term("Some dogs bite.", vocabulary)
    assert unknown_words("Gkuad and 2nd tuvirs are dangerous.", vocabulary) == ["gkuad"]
    imported = World("mine", 0, "v", {}, [Document("d", "The zorblat glimmers near Quenta.")], [])
    assert world_vocabulary(imported) == {"zorblat", "quenta"}


def test_each_sentence_gets_the_first_reason_that_drops_it():
    """One reason per sentence, in the order of FILTERS; a kept sentence makes its later copies duplicates."""
    filters = SentenceFilter(tiny_world(), "Statement: gruds are a type of abmes.", max_words=12)
    source = ["Scientists report that tuvir are more dangerous than pevab."]
    cases = [
        ("", "empty"),
        ("tuvir " * 13, "too_long"),
        ("The sky is blue.", "no_world_term"),
        ("Pevbab are less dangerous than tuvir.", "unknown_word"),
        ("Some tuvir are tuvirs.", "tautology"),
        ("Scientists report that tuvir are more dangerous than pevab", "copy_of_input"),
        ("This is about feran and ukal.", "in_train"),
        ("Pevab are less dangerous than tuvir.", None),
        ("pevab are less dangerous than tuvir!", "duplicate"),
    ]
    assert [(text, filters.drop_reason(text, source)) for text, _ in cases] == cases
    overlap = tiny_world(["gruds are a type of abmes."])  # world words that a template's example uses too
    overlap.facts.append(Fact("f2", "gruds", "type_of", "abmes"))
    assert SentenceFilter(overlap, "gruds are a type of abmes. abmes hold gruds.", 40).drop_reason(
        "abmes hold gruds.", []) == "copy_of_template"
