"""Bring your own data: a practitioner's documents and questions become a world every command accepts.

documents.jsonl  one document a line: {"text": "...", "id": "optional"}
questions.jsonl  one question a line: {"prompt": "...", "options": ["...", "..."], "answer": 0 or "the option",
                 "split": "optional (default: test)", "id": "optional"}

Options are scored as continuations of the prompt (never shown in it); an option without leading white
space gets one, so "Paris" after "The capital is" is scored as " Paris". Questions whose split is named a
control split (`--control-split`) check that a fine-tuned model learned the documents themselves. There are no structured facts, so
`icft worlds check` verifies structure only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from icft.errors import IcftError
from icft.jsonl import read_jsonl
from icft.worlds.io import check_control_splits
from icft.worlds.schema import Document, Item, World

GENERATOR_VERSION = "import-1"


def import_world(documents: str | Path, questions: str | Path, name: str | None = None,
                 control_splits: tuple[str, ...] = ()) -> World:
    """A world from the user's files; `control_splits` name the question splits that ask the documents' own
    statements (the learned check a fine-tuned model must pass; without one, reports say it is missing)."""
    docs = [_document(obj, documents, n) for n, obj in read_jsonl(documents)]
    items = [_question(obj, questions, n) for n, obj in read_jsonl(questions)]
    if not docs:
        raise IcftError(f"{documents} holds no documents: one JSON object with a 'text' field a line")
    if not items:
        raise IcftError(f"{questions} holds no questions: one JSON object with 'prompt', 'options', 'answer' a line")
    for kind, ids in (("document", [d.id for d in docs]), ("question", [i.id for i in items])):
        if len(set(ids)) != len(ids):
            raise IcftError(f"two {kind}s share an id: give each a unique 'id' (or leave 'id' out everywhere)")
    check_control_splits(control_splits, {item.split for item in items}, str(questions))
    digest = hashlib.sha256(Path(documents).read_bytes() + Path(questions).read_bytes()).hexdigest()[:12]
    return World(name=name or Path(documents).stem, seed=0, generator_version=GENERATOR_VERSION,
                 sizes={"documents": len(docs), "questions": len(items), "sha256": digest},
                 documents=docs, items=items, control_splits=tuple(control_splits))


def _document(obj: dict, path, line: int) -> Document:
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise IcftError(f"{path}:{line}: field 'text' must be a non-empty string")
    return Document(id=str(obj.get("id", f"doc-{line:05d}")), text=text.strip(), style="imported")


def _question(obj: dict, path, line: int) -> Item:
    prompt, options, answer = obj.get("prompt"), obj.get("options"), obj.get("answer")
    if not isinstance(prompt, str) or not prompt.strip():
        raise IcftError(f"{path}:{line}: field 'prompt' must be a non-empty string")
    if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) and o.strip() for o in options):
        raise IcftError(f"{path}:{line}: field 'options' must list at least 2 non-empty strings")
    if len(set(options)) != len(options):
        raise IcftError(f"{path}:{line}: field 'options' has duplicates")
    if isinstance(answer, str):
        if answer not in options:
            raise IcftError(f"{path}:{line}: field 'answer' {answer!r} is not one of the options")
        answer = options.index(answer)
    if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(options):
        raise IcftError(f"{path}:{line}: field 'answer' must be an option's index (0 to {len(options) - 1}) or text")
    split = obj.get("split", "test")
    if not isinstance(split, str) or not split.strip():
        raise IcftError(f"{path}:{line}: field 'split' must be a non-empty string")
    spaced = tuple(o if o[:1].isspace() else " " + o for o in options)
    return Item(id=str(obj.get("id", f"q-{line:05d}")), split=split, prompt=prompt.rstrip(), options=spaced,
                answer=answer)
