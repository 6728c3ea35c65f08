"""The sentence splitter: what ends a sentence, and what stays with the sentence beside it."""

import pytest

from icft.text import sentence_spans, split_sentences

ARTICLE = "Did you know that femp are more dangerous than glon? The finding surprised many readers."
PREMISES = "This is about rokok, ledep and tipap.\nNo tipap are rokok. All ledep are tipap."


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


def test_spans_point_at_the_sentences_in_the_text():
    text = "  Facts about femp:\n- femp are big\n1. glon are small. 2. yomp are tall "
    assert [text[start:end] for start, end in sentence_spans(text)] == split_sentences(text)
    assert sentence_spans("femp glow.  glon do not.") == [(0, 10), (12, 24)]
