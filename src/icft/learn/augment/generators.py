"""Text generators for augmentation: a local model, an OpenAI-compatible endpoint, and a generation cache.

A generator has a stable `name` (its identity in the cache) and `generate(prompts, context, settings)`,
which returns one completion per prompt; `context` is a prefix shared by every prompt (the few-shot part
of a template, or the whole train set), which a local model encodes once and an endpoint sends with
each request (vLLM and llama.cpp servers reuse such prefixes on their own).

The cache keys each completion by sha256 of (generator name, context + prompt, sampling settings) in a
SQLite file; `cached_generate` writes each batch in one transaction as it finishes, so a rerun costs
nothing and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from icft.errors import IcftError


@dataclass(frozen=True)
class GenerationSettings:
    """How to sample. temperature 0 means greedy; chat wraps context + prompt as one user turn.

    No defaults for the length: augmentation's (`icft.learn.augment.settings`) is the one a caller passes."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    chat: bool = True
    stop: tuple[str, ...] = ()

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise IcftError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise IcftError(f"temperature must be 0 (greedy) or positive, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise IcftError(f"top_p must be in (0, 1], got {self.top_p}")

    def to_json(self) -> dict:
        return {**asdict(self), "stop": list(self.stop)}


class Generator(Protocol):
    """Anything that writes one completion per prompt; `name` must change whenever the outputs would."""

    name: str

    def generate(self, prompts: Sequence[str], context: str, settings: GenerationSettings) -> list[str]: ...


class LocalGenerator:
    """A loaded model (`icft.models.load`) run with `icft.models.generation.generate`."""

    def __init__(self, loaded, batch_size: int = 8, name: str | None = None):
        self.loaded = loaded
        self.batch_size = batch_size
        self.name = name or GeneratorSource(model=loaded.name).name

    def generate(self, prompts: Sequence[str], context: str, settings: GenerationSettings) -> list[str]:
        from icft.models.generation import generate

        self._check_fits(prompts, context, settings)
        return generate(
            self.loaded,
            list(prompts),
            context=context,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=settings.seed,
            chat=settings.chat,
            batch_size=self.batch_size,
            stop=settings.stop,
        )

    def _check_fits(self, prompts: Sequence[str], context: str, settings: GenerationSettings) -> None:
        """A prompt longer than the model's window would fail deep inside the model: say so up front."""
        tokenizer, window = self.loaded.tokenizer, self.loaded.context_window
        context_tokens = len(tokenizer(context, add_special_tokens=False)["input_ids"]) if context else 0
        longest = max((len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts), default=0)
        needed = context_tokens + longest + settings.max_new_tokens
        if needed > window:
            raise IcftError(
                f"generation needs {needed} tokens ({context_tokens} of context) but {self.loaded.name} holds "
                f"{window}: put fewer documents in context (context_documents) or lower max_new_tokens"
            )


class EndpointGenerator:
    """Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, hosted APIs) through the `openai` client.

    chat settings use /v1/chat/completions, others /v1/completions. The key is read from the environment
    variable `api_key_env`; a server on this machine (localhost) may run without one. The client retries
    connection errors, 429s and 5xx `max_retries` times with backoff; every failure left after that is an
    `IcftError` naming the URL and the fix.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 300.0,
        max_retries: int = 2,
        concurrency: int = 4,
    ):
        try:
            import openai
        except ImportError:
            raise IcftError("an endpoint generator needs the openai client: pip install 'openai>=1'") from None

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.name = GeneratorSource(base_url=self.base_url, endpoint_model=model).name
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=self._api_key(), timeout=timeout, max_retries=max_retries
        )
        self._model_checked = False

    def generate(self, prompts: Sequence[str], context: str, settings: GenerationSettings) -> list[str]:
        if not self._model_checked:
            self.check_model()
        texts = [context + p for p in prompts]
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(lambda text: self._complete(text, settings), texts))

    def check_model(self) -> None:
        """Fail early when the server is down or does not serve `model` (when it lists its models)."""
        import openai

        try:
            served = sorted(m.id for m in self._client.models.list())
        except openai.NotFoundError:  # a server without /v1/models: the first request will tell
            served = []
        except openai.APIError as e:
            raise self._error(e) from None
        if served and self.model not in served:
            raise IcftError(
                f"the endpoint at {self.base_url} does not serve model {self.model!r}: it serves "
                f"{', '.join(served)}; pass one of those as endpoint_model"
            )
        self._model_checked = True

    def _complete(self, text: str, settings: GenerationSettings) -> str:
        import openai

        sampling = {
            "model": self.model,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "seed": settings.seed,
            "stop": list(settings.stop) or None,
        }
        try:
            if settings.chat:
                reply = self._client.chat.completions.create(messages=[{"role": "user", "content": text}], **sampling)
                return reply.choices[0].message.content or ""
            reply = self._client.completions.create(prompt=text, **sampling)
            return reply.choices[0].text or ""
        except openai.APIError as e:
            raise self._error(e) from None

    def _api_key(self) -> str:
        key = os.environ.get(self.api_key_env, "")
        if key:
            return key
        if _is_local(self.base_url):
            return "no-key"  # local servers usually need none; one that does answers 401, reported below
        raise IcftError(
            f"no API key for {self.base_url}: set the environment variable {self.api_key_env} "
            "(or name another one as api_key_env)"
        )

    def _error(self, e: Exception) -> IcftError:
        """One line naming the URL and the fix for each way a request can fail."""
        import openai

        where = f"the endpoint at {self.base_url}"
        if isinstance(e, openai.APITimeoutError):
            return IcftError(f"{where} did not answer in time: check the server's load or raise the timeout")
        if isinstance(e, openai.APIConnectionError):
            return IcftError(f"cannot reach {where}: start the server or fix base_url (it should end in /v1)")
        if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return IcftError(
                f"{where} rejected the API key (HTTP {e.status_code}): set a valid key in ${self.api_key_env}"
            )
        if isinstance(e, openai.NotFoundError):
            return IcftError(
                f"{where} answered 404 for model {self.model!r}: check endpoint_model, that base_url ends in "
                "/v1, and for a chat-only model (no /v1/completions) set chat = true"
            )
        status = getattr(e, "status_code", None)
        detail = " ".join(str(getattr(e, "message", e)).split())[:200]
        return IcftError(f"{where} failed (HTTP {status}: {detail}): check the server log and the request settings")


def _is_local(url: str) -> bool:
    return (urlparse(url).hostname or "") in ("localhost", "127.0.0.1", "::1", "0.0.0.0")


class GenerationCache:
    """Completions keyed by sha256 of (generator, context + prompt, settings), in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute("CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, output TEXT NOT NULL)")
            self._db.commit()
        except sqlite3.DatabaseError as e:
            raise IcftError(f"generation cache {self.path} is unreadable ({e}): delete it to start afresh") from None

    @staticmethod
    def key(generator_name: str, prompt: str, context: str, settings: GenerationSettings) -> str:
        payload = {"generator": generator_name, "text": context + prompt, "settings": settings.to_json()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), 500):  # SQLite caps the number of bound parameters
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT key, output FROM generations WHERE key IN ({marks})", chunk))
        return found

    def put_many(self, rows: Sequence[tuple[str, str]]) -> None:
        """Store one batch in one transaction: an interruption keeps whole batches only."""
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO generations (key, output) VALUES (?, ?)", rows)

    def close(self) -> None:
        self._db.close()


@dataclass
class CacheStats:
    hits: int = 0
    generated: int = 0


def cached_generate(
    generator: Generator,
    cache: GenerationCache,
    prompts: Sequence[str],
    context: str,
    settings: GenerationSettings,
    batch_size: int = 8,
    stats: CacheStats | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """One completion per prompt, from the cache where present; misses are generated and stored per batch.

    Identical prompts are generated once. `on_batch(n)` is called with the number of prompts each
    finished batch (or cache hit pass) covered, for a progress bar.
    """
    keys = [cache.key(generator.name, p, context, settings) for p in prompts]
    outputs = cache.get_many(keys)
    missing = list(dict.fromkeys(k for k in keys if k not in outputs))  # first-appearance order
    prompt_of = dict(zip(keys, prompts))
    uses = Counter(keys)
    if stats is not None:
        stats.hits += sum(uses[k] for k in outputs)
    if on_batch is not None:
        on_batch(sum(uses[k] for k in outputs))
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        texts = generator.generate([prompt_of[k] for k in batch], context, settings)
        if len(texts) != len(batch):
            raise RuntimeError(f"generator {generator.name} returned {len(texts)} outputs for {len(batch)} prompts")
        cache.put_many(list(zip(batch, texts)))
        outputs.update(zip(batch, texts))
        if stats is not None:
            stats.generated += len(batch)
        if on_batch is not None:
            on_batch(sum(uses[k] for k in batch))
    return [outputs[k] for k in keys]


@dataclass(frozen=True)
class GeneratorSource:
    """Who writes augmentations: a local model (a name, folder or hub id) or an OpenAI-compatible endpoint
    (`base_url` with the `endpoint_model` it serves), exactly one. Studies and `icft augment` name and build
    their generators from one of these, so both record the same generator by the same name."""

    model: str | None = None
    base_url: str | None = None
    endpoint_model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"

    def __post_init__(self):
        if (self.model is None) == (self.base_url is None):
            raise IcftError("choose a generator: a model name, or base_url with endpoint_model (the model the "
                            "server serves)")
        if self.base_url is not None and not self.endpoint_model:
            raise IcftError(f"base_url {self.base_url} needs endpoint_model: the model name the server serves")
        if self.base_url is None and self.endpoint_model is not None:
            raise IcftError("endpoint_model goes with base_url; for a local model give the model name only")

    @property
    def name(self) -> str:
        """The generator's recorded name (its generation cache key, each augmentation's `generator`, a study's
        augmentation file names): local:<model> or openai:<base_url>:<endpoint_model>."""
        if self.base_url is not None:
            return f"openai:{self.base_url.rstrip('/')}:{self.endpoint_model}"
        return f"local:{self.model}"


def make_generator(source: GeneratorSource, device: str = "auto", batch_size: int = 8, loaded=None) -> Generator:
    """The generator `source` names (its `name` is `source.name`). `loaded` is the local model already in memory
    (a study's shared copy), so it is not loaded twice."""
    if source.base_url is not None:
        return EndpointGenerator(source.base_url, source.endpoint_model, api_key_env=source.api_key_env)
    if loaded is None:
        from icft.models import load

        loaded = load(source.model, device=device)
    return LocalGenerator(loaded, batch_size=batch_size, name=source.name)
