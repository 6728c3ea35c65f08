"""Bring your own data: a practitioner's documents and questions become a world every command accepts.

documents        a JSONL file, one document a line: {"text": "...", "id": "optional"}; or a folder of .txt and
                 .md files, one document each (id = the file's stem; files in sorted order)
questions.jsonl  one question a line, multiple choice: {"prompt": "...", "options": ["...", "..."],
                 "answer": 0 or "the option", "split": "optional (default: test)", "id": "optional"}
                 or free form (no options): {"prompt": "...", "answer": "the answer", "aliases": ["other
                 accepted wordings", ...] (optional), "split": ..., "id": ...}

Options are scored as continuations of the prompt (never shown in it); an option without leading white
space gets one, so "Paris" after "The capital is" is scored as " Paris". A free-form question is answered by
greedy generation and scored by SQuAD exact match and token F1 (`icft.evaluate.free_form`); its answers get
the same leading space, as they are also scored as continuations. Questions whose split is named a
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
    docs = _documents(Path(documents))
    items = [_question(obj, questions, n) for n, obj in read_jsonl(questions)]
    if not items:
        raise IcftError(f"{questions} holds no questions: one JSON object with 'prompt', 'options', 'answer' a line")
    for kind, ids in (("document", [d.id for d in docs]), ("question", [i.id for i in items])):
        if len(set(ids)) != len(ids):
            raise IcftError(f"two {kind}s share an id: give each a unique 'id' (or leave 'id' out everywhere)")
    check_control_splits(control_splits, {item.split for item in items}, str(questions))
    texts = "\0".join(f"{d.id}\0{d.text}" for d in docs).encode()
    digest = hashlib.sha256(texts + Path(questions).read_bytes()).hexdigest()[:12]
    return World(name=name or Path(documents).stem, seed=0, generator_version=GENERATOR_VERSION,
                 sizes={"documents": len(docs), "questions": len(items), "sha256": digest},
                 documents=docs, items=items, control_splits=tuple(control_splits))


DOCUMENT_SUFFIXES = (".txt", ".md")


def _documents(path: Path) -> list[Document]:
    """The documents of a JSONL file, or of a folder of .txt/.md files (one each, in sorted file-name order)."""
    if not path.is_dir():
        docs = [_document(obj, path, n) for n, obj in read_jsonl(path)]
        if not docs:
            raise IcftError(f"{path} holds no documents: one JSON object with a 'text' field a line")
        return docs
    files = sorted(f for f in path.iterdir() if f.suffix.lower() in DOCUMENT_SUFFIXES and not f.name.startswith("."))
    if not files:
        raise IcftError(f"{path} holds no .txt or .md files: put one document in each (or pass a JSONL file)")
    stems = [f.stem for f in files]
    if len(set(stems)) != len(stems):
        twice = next(s for s in stems if stems.count(s) > 1)
        raise IcftError(f"{path}: two files are named {twice!r} (.txt and .md): a file's stem is its document id, "
                        "rename one")
    docs = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise IcftError(f"{f}: cannot be read as UTF-8 text ({e.__class__.__name__}): save it as UTF-8 "
                            "or move it out of the folder") from None
        if not text.strip():
            raise IcftError(f"{f} is empty: write the document's text in it, or remove the file")
        docs.append(Document(id=f.stem, text=text.strip(), style="imported"))
    return docs


def _document(obj: dict, path, line: int) -> Document:
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise IcftError(f"{path}:{line}: field 'text' must be a non-empty string")
    return Document(id=str(obj.get("id", f"doc-{line:05d}")), text=text.strip(), style="imported")


def _question(obj: dict, path, line: int) -> Item:
    prompt, options, answer = obj.get("prompt"), obj.get("options"), obj.get("answer")
    if not isinstance(prompt, str) or not prompt.strip():
        raise IcftError(f"{path}:{line}: field 'prompt' must be a non-empty string")
    split = obj.get("split", "test")
    if not isinstance(split, str) or not split.strip():
        raise IcftError(f"{path}:{line}: field 'split' must be a non-empty string")
    item_id = str(obj.get("id", f"q-{line:05d}"))
    if options is None:
        return _free_form(obj, path, line, item_id, split, prompt.rstrip())
    if "aliases" in obj:
        raise IcftError(f"{path}:{line}: field 'aliases' is for free-form questions: drop it, or drop 'options'")
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
    return Item(id=item_id, split=split, prompt=prompt.rstrip(), options=_spaced(options), answer=answer)


def _free_form(obj: dict, path, line: int, item_id: str, split: str, prompt: str) -> Item:
    """A question without options: 'answer' is the gold answer's text, 'aliases' other accepted wordings."""
    answer, aliases = obj.get("answer"), obj.get("aliases", [])
    if "answer" not in obj:
        raise IcftError(f"{path}:{line}: missing field 'answer': give the answer's text (free form) "
                        "or 'options' with the answer's index")
    if not isinstance(answer, str) or not answer.strip():
        raise IcftError(f"{path}:{line}: field 'answer' of a free-form question (no 'options') must be a "
                        "non-empty string: the answer's text")
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise IcftError(f"{path}:{line}: field 'aliases' must be a list of non-empty strings, "
                        'e.g. ["Blorvex", "the Blorvex 9"]')
    answers = list(dict.fromkeys(a.strip() for a in [answer, *aliases]))  # the gold answer first, no repeats
    return Item(id=item_id, split=split, prompt=prompt, options=(), answer=0, answers=_spaced(answers))


def _spaced(texts) -> tuple[str, ...]:
    """Continuations begin with white space, so "Paris" after "The capital is" is scored as " Paris"."""
    return tuple(t if t[:1].isspace() else " " + t for t in texts)
