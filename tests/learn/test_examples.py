import pytest

from icft.learn.examples import TrainingExample, document_examples, sentence_examples
from icft.text import split_sentences
from icft.worlds.schema import Document, World


def tiny_world(*texts: str) -> World:
    documents = [Document(f"doc-{n}", text) for n, text in enumerate(texts)]
    return World(name="tiny", seed=0, generator_version="0", sizes={}, documents=documents, items=[])


ARTICLE = "Did you know that femp are more dangerous than glon? The finding surprised many readers."
PREMISES = "This is about rokok, ledep and tipap.\nNo tipap are rokok. All ledep are tipap."


def test_document_examples_learn_each_whole_document():
    world = tiny_world(ARTICLE, PREMISES)
    assert document_examples(world) == [TrainingExample("", ARTICLE), TrainingExample("", PREMISES)]


def test_independent_sentences_are_their_own_examples():
    examples = sentence_examples(tiny_world(ARTICLE, PREMISES), how="independent")
    assert [e.prompt for e in examples] == [""] * 5
    assert [e.completion for e in examples] == split_sentences(ARTICLE) + split_sentences(PREMISES)


def test_cumulative_sentences_keep_earlier_sentences_as_prompt():
    examples = sentence_examples(tiny_world(PREMISES), how="cumulative")
    assert examples == [
        TrainingExample("", "This is about rokok, ledep and tipap."),
        TrainingExample("This is about rokok, ledep and tipap.", "\nNo tipap are rokok."),
        TrainingExample("This is about rokok, ledep and tipap.\nNo tipap are rokok.", " All ledep are tipap."),
    ]
    # prompt + completion is the document up to that sentence, so the tokens match the whole document's
    assert examples[-1].prompt + examples[-1].completion == PREMISES


def test_unknown_split_mode_is_rejected():
    with pytest.raises(ValueError, match="how must be one of independent, cumulative"):
        sentence_examples(tiny_world(ARTICLE), how="overlapping")
