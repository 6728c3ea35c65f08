"""Augmentation prompt templates: editable text files with `{placeholder}` fields.

The built-in templates live in `icft/learn/augment/prompts/` (`local.txt`, `global.txt`); a user's own file
works the same way. Lines starting with "##" are comments; `{{` and `}}` are literal braces.

A template splits into a shared part and a per-request part at its first per-request placeholder
({sentence} for local, {document} for global): the shared part becomes the generation `context`, which a
local model encodes once for all requests.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from icft.errors import IcftError

PROMPTS_DIR = Path(__file__).parent / "prompts"


@dataclass(frozen=True)
class TemplateSpec:
    """The placeholders one strategy fills: shared ones once per run, per-request ones once per prompt."""

    shared: tuple[str, ...]
    per_request: tuple[str, ...]

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.shared + self.per_request


SPECS: dict[str, TemplateSpec] = {
    "local": TemplateSpec(shared=(), per_request=("sentence",)),
    "global": TemplateSpec(shared=("documents",), per_request=("document",)),
}


@dataclass(frozen=True)
class Template:
    name: str  # the built-in name ("local") or the file's path
    strategy: str
    pieces: tuple[tuple[str, str | None], ...]  # (literal text, placeholder after it or None)

    def context(self, shared: dict[str, str]) -> str:
        """The text before the first per-request placeholder (up to its last line break), shared ones filled."""
        index, cut = self._split()
        head = self._render(self.pieces[:index], shared)
        return head + (self.pieces[index][0][:cut] if index < len(self.pieces) else "")

    def prompt(self, shared: dict[str, str], request: dict[str, str]) -> str:
        """The rest of the template for one request; context(...) + prompt(...) is the whole text."""
        index, cut = self._split()
        if index == len(self.pieces):
            return ""
        literal, field = self.pieces[index]
        rest = ((literal[cut:], field), *self.pieces[index + 1 :])
        return self._render(rest, {**shared, **request})

    def literal_text(self) -> str:
        """The template's own words, placeholders left out (to spot a completion that copies them)."""
        return "\n".join(literal for literal, _ in self.pieces)

    def _split(self) -> tuple[int, int]:
        """(piece index, offset in its literal) where the shared part ends.

        The cut falls just after a line break: tokenizers do not merge a line break with the word after
        it, so encoding the context once and each prompt after it gives the tokens of the whole text.
        """
        per_request = SPECS[self.strategy].per_request
        for i, (literal, field) in enumerate(self.pieces):
            if field in per_request:
                return i, literal.rfind("\n") + 1
        return len(self.pieces), 0

    @staticmethod
    def _render(pieces, values: dict[str, str]) -> str:
        return "".join(literal + (values[field] if field is not None else "") for literal, field in pieces)


def load_template(strategy: str, path: str | Path | None = None) -> Template:
    """The built-in template of `strategy`, or the file at `path`, checked against the strategy's placeholders."""
    if strategy not in SPECS:
        raise IcftError(f"unknown augmentation strategy {strategy!r}: choose one of {', '.join(SPECS)}")
    file = Path(path) if path is not None else PROMPTS_DIR / f"{strategy}.txt"
    if not file.is_file():
        raise IcftError(f"template {file} is missing: check the path (built-in ones are in {PROMPTS_DIR})")
    name = strategy if path is None else str(path)
    return parse_template(file.read_text(encoding="utf-8"), strategy, name)


def parse_template(text: str, strategy: str, name: str) -> Template:
    """Parse and validate template text; an unknown or missing placeholder is an error naming it."""
    spec = SPECS[strategy]
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("##"))
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as e:  # a lone "{" or "}"
        raise IcftError(f"template {name}: {e}; write {{{{ and }}}} for literal braces") from None
    pieces, seen = [], set()
    for literal, field, spec_text, conversion in parsed:
        if field is not None:
            if field not in spec.allowed:
                raise IcftError(
                    f"template {name} has unknown placeholder {{{field}}}: a {strategy} template may use "
                    f"{', '.join('{' + p + '}' for p in spec.allowed)} (write {{{{ and }}}} for literal braces)"
                )
            if spec_text or conversion:
                raise IcftError(f"template {name}: placeholder {{{field}}} takes no format spec or conversion")
            seen.add(field)
        pieces.append((literal, field))
    missing = [p for p in spec.allowed if p not in seen]
    if missing:
        raise IcftError(f"template {name} lacks the required placeholder {{{missing[0]}}}: add it to the template")
    return Template(name=name, strategy=strategy, pieces=tuple(pieces))
