"""EndpointGenerator against a real OpenAI-compatible server: llama-cpp-python's, serving the embedded GGUF.

Needs the test extra `llama-cpp-python[server]` (built from source on first install). The server runs
on 127.0.0.1 on a free port, with an API key so the key handling is exercised too.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from icft.errors import IcftError
from icft.learn.augment import augment_world
from icft.learn.augment.settings import AugmentSettings
from icft.learn.augment.generators import EndpointGenerator, GenerationSettings
from icft.worlds.schema import Document, Fact, World

pytestmark = pytest.mark.embedded
KEY, KEY_ENV, ALIAS = "icft-test-key", "ICFT_TEST_ENDPOINT_KEY", "smollm2"
STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _models_answer(url: str) -> bool:
    request = urllib.request.Request(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200 and json.load(response)["data"][0]["id"] == ALIAS
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    """A llama.cpp server process for this module; stopped at the end."""
    # no skip: `make test` installs the `endpoint-test` extra, so a missing server is a failed setup
    import llama_cpp.server  # noqa: F401
    from icft.models.loading import cache_root
    from icft.models.registry import EMBEDDED, embedded_gguf_path

    gguf = embedded_gguf_path(EMBEDDED["smollm2-135m"], cache_root())
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", ALIAS,
               "--host", "127.0.0.1", "--port", str(port), "--api_key", KEY, "--n_ctx", "2048",
               "--n_threads", "2", "--seed", "0"]
    with log.open("w") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _models_answer(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server did not start; its log ends:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


SHORT = GenerationSettings(max_new_tokens=24)


def test_chat_completions(server_url, keyed):
    # not compared across calls: llama.cpp's greedy output can change when it reuses a cached prefix
    # (different batching, different rounding); reruns are made repeatable by the generation cache
    generator = EndpointGenerator(server_url, ALIAS, api_key_env=KEY_ENV)
    prompts = ["Say hello.", "Rewrite in other words: tuvir are bigger than pevab."]
    texts = generator.generate(prompts, "", SHORT)
    assert len(texts) == 2 and all(text.strip() for text in texts)
    assert generator.name == f"openai:{server_url}:{ALIAS}"


def test_plain_completions_and_stop_strings(server_url, keyed):
    generator = EndpointGenerator(server_url, ALIAS, api_key_env=KEY_ENV)
    settings = GenerationSettings(max_new_tokens=40, chat=False, stop=("\n",))
    (text,) = generator.generate(["The capital of France is"], "Answer briefly.\n", settings)
    assert text.strip() and "\n" not in text


def test_unknown_model_lists_what_the_server_serves(server_url, keyed):
    generator = EndpointGenerator(server_url, "gpt-99", api_key_env=KEY_ENV)
    with pytest.raises(IcftError, match=f"does not serve model 'gpt-99': it serves {ALIAS}; pass one of those"):
        generator.generate(["Say hello."], "", SHORT)


def test_wrong_or_missing_key_is_rejected_with_the_fix(server_url, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "wrong-key")
    with pytest.raises(IcftError, match=rf"rejected the API key \(HTTP 401\): set a valid key in \${KEY_ENV}"):
        EndpointGenerator(server_url, ALIAS, api_key_env=KEY_ENV, max_retries=0).generate(["Hi."], "", SHORT)
    monkeypatch.delenv(KEY_ENV)  # a local server may need no key, so none is sent ... and this one says 401
    with pytest.raises(IcftError, match="rejected the API key"):
        EndpointGenerator(server_url, ALIAS, api_key_env=KEY_ENV, max_retries=0).generate(["Hi."], "", SHORT)


class RecordingGenerator:
    def __init__(self, inner):
        self.inner, self.name, self.outputs = inner, inner.name, []

    def generate(self, prompts, context, settings):
        texts = self.inner.generate(prompts, context, settings)
        self.outputs.extend(texts)
        return texts


def _augment(world, generator, out, settings):
    """Records, or [] when the model's text was all filtered out (its quality is not under test here)."""
    try:
        return augment_world(world, generator, "local", out, settings, progress=False).records
    except IcftError as e:
        assert "kept nothing" in str(e)
        return []


def test_local_augmentation_through_the_endpoint(server_url, keyed, tmp_path):
    world = World("tiny", 0, "t", {}, [
        Document("d0", "Scientists report that tuvir are more dangerous than pevab."),
        Document("d1", "All feran are ukal."),
    ], [], facts=[Fact("f0", "tuvir", "more_dangerous", "pevab"), Fact("f1", "feran", "all", "ukal")])
    generator = RecordingGenerator(EndpointGenerator(server_url, ALIAS, api_key_env=KEY_ENV))
    out, settings = tmp_path / "aug.jsonl", AugmentSettings(max_new_tokens=48)
    records = _augment(world, generator, out, settings)
    assert len(generator.outputs) == 2 and any(text.strip() for text in generator.outputs)
    assert all(r["generator"] == f"openai:{server_url}:{ALIAS}" for r in records)
    again = RecordingGenerator(EndpointGenerator(server_url, ALIAS, api_key_env=KEY_ENV))
    assert _augment(world, again, out, settings) == records
    assert again.outputs == []  # every completion came from the cache
