"""Reading and writing a world folder, with errors that name the file, line and field.

Files are written with a fixed key order and no timestamps so that the same seed gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from icft.errors import IcftError
from icft.jsonl import json_line, read_jsonl, write_text_atomic
from icft.worlds.logic import Rules
from icft.worlds.schema import Document, Fact, Item, World

WORLD_FILE, TRAIN_FILE, TEST_FILE = "world.json", "train.jsonl", "test.jsonl"


def save_world(world: World, out_dir: str | Path) -> Path:
    """Write `world` into `out_dir` (created if needed); each file is replaced atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = {
        "name": world.name,
        "seed": world.seed,
        "generator_version": world.generator_version,
        "sizes": world.sizes,
        "counts": {
            "documents": len(world.documents),
            "facts": len(world.facts),
            "items": {split: len(world.items_in(split)) for split in world.splits},
        },
        "control_splits": list(world.control_splits),
        "inherent_baselines": _inherent_json(world.inherent_baselines),
        "rules": world.rules.to_json(),
        "facts": [[f.id, f.subject, f.relation, f.object] for f in world.facts],
    }
    write_text_atomic(out / WORLD_FILE, json.dumps(header, indent=1, ensure_ascii=False) + "\n")
    write_text_atomic(out / TRAIN_FILE, "".join(json_line(_document_json(d)) for d in world.documents))
    write_text_atomic(out / TEST_FILE, "".join(json_line(_item_json(i)) for i in world.items))
    return out


def load_world(world_dir: str | Path) -> World:
    """Read and validate a world folder; any problem is an `IcftError` naming file, line and field."""
    root = Path(world_dir)
    if not root.is_dir():
        raise IcftError(f"world folder {root} does not exist: build one with `icft worlds build NAME --out {root}`")
    header_path = root / WORLD_FILE
    header = _read_json(header_path)
    for key, kind in (("name", str), ("seed", int), ("generator_version", str), ("sizes", dict)):
        _require(header, key, kind, header_path, None)
    facts = []
    for n, row in enumerate(header.get("facts", [])):
        if not (isinstance(row, list) and len(row) == 4 and all(isinstance(x, str) for x in row)):
            raise IcftError(f"{header_path}: facts[{n}] must be [id, subject, relation, object] strings")
        facts.append(Fact(*row))
    rules_json = header.get("rules", {})
    if not isinstance(rules_json, dict):
        raise IcftError(f"{header_path}: field 'rules' must be an object with 'converses' and 'compositions'")
    documents = [_parse_document(obj, root / TRAIN_FILE, n) for n, obj in read_jsonl(root / TRAIN_FILE)]
    items = [_parse_item(obj, root / TEST_FILE, n) for n, obj in read_jsonl(root / TEST_FILE)]
    if not documents:
        raise IcftError(f"{root / TRAIN_FILE}: no documents; a world needs at least one train document")
    control_splits = header.get("control_splits", [])
    if not isinstance(control_splits, list) or not all(isinstance(s, str) for s in control_splits):
        raise IcftError(f"{header_path}: field 'control_splits' must be a list of split names")
    check_control_splits(control_splits, {item.split for item in items}, str(header_path))
    inherent = _parse_inherent(header.get("inherent_baselines", {}), header_path)
    return World(
        name=header["name"],
        seed=header["seed"],
        generator_version=header["generator_version"],
        sizes=header["sizes"],
        documents=documents,
        items=items,
        facts=facts,
        rules=Rules.from_json(rules_json),
        control_splits=tuple(control_splits),
        inherent_baselines=inherent,
    )


def check_control_splits(control_splits, splits: set[str], where: str) -> None:
    """Every control split names a split that has test items."""
    for split in control_splits:
        if split not in splits:
            raise IcftError(f"{where}: control split {split!r} has no test items "
                            f"(splits: {', '.join(sorted(splits)) or 'none'}); name one of those")


def _inherent_json(inherent: dict[tuple[str, str], str]) -> dict[str, dict[str, str]]:
    """{split: {baseline: reason}}, sorted."""
    out: dict[str, dict[str, str]] = {}
    for (split, baseline), reason in sorted(inherent.items()):
        out.setdefault(split, {})[baseline] = reason
    return out


def _parse_inherent(obj: Any, path: Path) -> dict[tuple[str, str], str]:
    ok = isinstance(obj, dict) and all(
        isinstance(row, dict) and all(isinstance(b, str) and isinstance(r, str) for b, r in row.items())
        for row in obj.values()
    )
    if not ok:
        raise IcftError(f"{path}: field 'inherent_baselines' must map split -> baseline -> reason (strings)")
    return {(split, baseline): reason for split, row in obj.items() for baseline, reason in row.items()}


def _document_json(d: Document) -> dict[str, Any]:
    return {"id": d.id, "style": d.style, "text": d.text, "fact_ids": list(d.fact_ids)}


def _item_json(i: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"id": i.id, "split": i.split, "prompt": i.prompt}
    if i.free_form:  # the gold answer first, then its aliases
        out["answers"] = list(i.answers)
    else:
        out["options"] = list(i.options)
        out["answer"] = i.answer
    if i.also_correct:
        out["also_correct"] = list(i.also_correct)
    out["fact_ids"] = list(i.fact_ids)
    if i.claims is not None:
        out["claims"] = [list(c) if c is not None else None for c in i.claims]
    return out


def _parse_document(obj: dict, path: Path, line: int) -> Document:
    _require(obj, "id", str, path, line)
    _require(obj, "text", str, path, line)
    fact_ids = _optional_str_list(obj, "fact_ids", path, line)
    style = obj.get("style", "plain")
    if not isinstance(style, str):
        raise IcftError(f"{path}:{line}: field 'style' must be a string")
    if not obj["text"].strip():
        raise IcftError(f"{path}:{line}: field 'text' is empty")
    return Document(id=obj["id"], text=obj["text"], fact_ids=tuple(fact_ids), style=style)


def _parse_item(obj: dict, path: Path, line: int) -> Item:
    if "answers" in obj and "options" not in obj:
        return _parse_free_form_item(obj, path, line)
    for key, kind in (("id", str), ("split", str), ("prompt", str), ("options", list), ("answer", int)):
        _require(obj, key, kind, path, line)
    options = obj["options"]
    if len(options) < 2 or not all(isinstance(o, str) and o.strip() for o in options):
        raise IcftError(f"{path}:{line}: field 'options' must hold at least 2 non-empty strings")
    if len(set(options)) != len(options):
        raise IcftError(f"{path}:{line}: field 'options' has duplicate options")
    answer = obj["answer"]
    if isinstance(answer, bool) or not 0 <= answer < len(options):
        raise IcftError(f"{path}:{line}: field 'answer' must be an index from 0 to {len(options) - 1}, got {answer}")
    also = obj.get("also_correct", [])
    if not isinstance(also, list) or not all(isinstance(a, int) and 0 <= a < len(options) and a != answer for a in also):
        raise IcftError(f"{path}:{line}: field 'also_correct' must list other option indices")
    claims = obj.get("claims")
    if claims is not None:
        ok = isinstance(claims, list) and len(claims) == len(options) and all(
            c is None or (isinstance(c, list) and len(c) == 3 and all(isinstance(x, str) for x in c)) for c in claims
        )
        if not ok:
            raise IcftError(f"{path}:{line}: field 'claims' must hold one [subject, relation, object] per option")
        claims = tuple(tuple(c) if c is not None else None for c in claims)
    return Item(
        id=obj["id"],
        split=obj["split"],
        prompt=obj["prompt"],
        options=tuple(options),
        answer=answer,
        also_correct=tuple(also),
        fact_ids=tuple(_optional_str_list(obj, "fact_ids", path, line)),
        claims=claims,
    )


def _parse_free_form_item(obj: dict, path: Path, line: int) -> Item:
    for key, kind in (("id", str), ("split", str), ("prompt", str), ("answers", list)):
        _require(obj, key, kind, path, line)
    answers = obj["answers"]
    if not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        raise IcftError(f"{path}:{line}: field 'answers' must hold the gold answer (then any aliases) as "
                        "non-empty strings")
    return Item(id=obj["id"], split=obj["split"], prompt=obj["prompt"], options=(), answer=0,
                answers=tuple(answers), fact_ids=tuple(_optional_str_list(obj, "fact_ids", path, line)))


def _require(obj: dict, key: str, kind: type, path: Path, line: int | None) -> None:
    where = f"{path}:{line}" if line is not None else str(path)
    if key not in obj:
        raise IcftError(f"{where}: missing field '{key}'")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise IcftError(f"{where}: field '{key}' must be {kind.__name__}, got {type(value).__name__}")


def _optional_str_list(obj: dict, key: str, path: Path, line: int) -> list[str]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IcftError(f"{path}:{line}: field '{key}' must be a list of strings")
    return value


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise IcftError(f"{path} is missing: is this a world folder? (build one with `icft worlds build`)")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise IcftError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise IcftError(f"{path}: must hold a JSON object")
    return obj
