import pytest

from icft.learn.examples import TrainingExample, document_examples, sentence_examples, split_sentences
from icft.worlds.schema import Document, World


def tiny_world(*texts: str) -> World:
    documents = [Document(f"doc-{n}", text) for n, text in enumerate(texts)]
    return World(name="tiny", seed=0, generator_version="0", sizes={}, documents=documents, items=[])


ARTICLE = "Did you know that femp are more dangerous than glon? The finding surprised many readers."
PREMISES = "This is about rokok, ledep and tipap.\nNo tipap are rokok. All ledep are tipap."


def test_document_examples_learn_each_whole_document():
    world = tiny_world(ARTICLE, PREMISES)
    assert document_examples(world) == [TrainingExample("", ARTICLE), TrainingExample("", PREMISES)]


@pytest.mark.parametrize(
    "text, sentences",
    [
        (ARTICLE, ["Did you know that femp are more dangerous than glon?", "The finding surprised many readers."]),
        (PREMISES, ["This is about rokok, ledep and tipap.", "No tipap are rokok.", "All ledep are tipap."]),
        ("Wow! femp glow.  glon do not.", ["Wow!", "femp glow.", "glon do not."]),
        # an answer stays with its question, on one line or two
        ("Q: Are femp bigger than glon? A: Yes.\nQ: Are glon bigger?\nA: No.",
         ["Q: Are femp bigger than glon? A: Yes.", "Q: Are glon bigger?\nA: No."]),
        # a header stays with the line after it; list markers and abbreviations do not end a sentence
        ("Facts about femp:\n- femp are big\n1. glon are small. 2. yomp are tall",
         ["Facts about femp:\n- femp are big", "1. glon are small.", "2. yomp are tall"]),
        # the semantic world's article and list styles; unpunctuated list items stay apart
        ("Gruds\nGruds are a type of abmes. They are big.", ["Gruds\nGruds are a type of abmes.", "They are big."]),
        ("Notes on femp:\n- femp are big\n- glon are small", ["Notes on femp:\n- femp are big", "- glon are small"]),
        ("Dr. Grasi invented e.g. the zikar. \"It works.\" (Truly.) done",
         ["Dr. Grasi invented e.g. the zikar.", "\"It works.\"", "(Truly.)", "done"]),
        ("A version 2.5 of glon exists. End", ["A version 2.5 of glon exists.", "End"]),
        ("\n\n  lone sentence without a stop  \n", ["lone sentence without a stop"]),
        ("", []),
    ],
)
def test_split_sentences(text, sentences):
    assert split_sentences(text) == sentences


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
