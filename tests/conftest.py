from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edgeclean.model.protocol import Completion, complete_in_turn

ROOT = Path(__file__).resolve().parent.parent
# PDFs this project generates (tests/fixtures/make.py), each with its ground truth beside it: every test of a
# behaviour uses these, so the suite runs in a bare clone.
FIXTURES = ROOT / "tests" / "fixtures"
PAPER = FIXTURES / "paper.pdf"  # 3-page two-column preprint carrying every kind of debris; paper.txt, paper.json
NOTES = FIXTURES / "notes.pdf"  # one page of plain prose: a second, different document
LANGUAGES = FIXTURES / "languages.pdf"  # a Chinese and Japanese page, an Arabic page
# Real-world PDFs nobody on this project wrote, where a checkout has them: extra evidence, never the only test.
CORPUS = Path(os.environ.get("EDGECLEAN_CORPUS", ROOT.parent / "shared" / "corpus"))
KD_SURVEY = CORPUS / "kd-survey-2402.13116v4.pdf"
TINY_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(autouse=True)
def _isolated_models_dir(tmp_path, monkeypatch):
    """No test may pick up models or outputs from the developer's own directories by accident."""
    monkeypatch.setenv("EDGECLEAN_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("EDGECLEAN_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    if not TINY_MODEL.is_file():
        pytest.fail(f"{TINY_MODEL} is missing: run .ci/test-model first")
    return TINY_MODEL


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path):
    from edgeclean.model.llama.adapter import LlamaCppModel

    model = LlamaCppModel(tiny_model_path, n_ctx=2048, n_gpu_layers=0, threads=2)
    yield model
    model.close()


def pytest_collection_modifyitems(items):
    """Tests on the real-PDF corpus are marked ``corpus``, so CI can run them apart: ``pytest -m corpus``."""
    for item in items:
        if "corpus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.corpus)
        if "ray_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ray)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The real-PDF corpus; without one, its tests are skipped with this one line (a bare clone has none)."""
    if not KD_SURVEY.is_file():
        pytest.skip(f"real-PDF corpus test: no corpus at {CORPUS} (set EDGECLEAN_CORPUS to run it)")
    return CORPUS


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 4 logical CPUs for a test module; its address for `--address`. Skipped without Ray."""
    try:
        import ray
    except ImportError:
        pytest.skip("Ray test: Ray is not installed (pip install 'edgeclean[ray]')")
    context = ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


def truth(pdf: Path) -> str:
    """What a perfect cleaning of a fixture PDF gives: the text its generator wrote, minus the debris."""
    return pdf.with_suffix(".txt").read_text(encoding="utf-8")


def debris(pdf: Path) -> dict:
    """The debris the generator put into a fixture PDF (running lines, hyphenated words, password...)."""
    return json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))


class RecordingModel:
    """A stand-in for logic tests: counts words and punctuation as tokens and echoes the chunk back."""

    name = "recording-model"
    n_ctx = 2048
    device = "CPU"
    chat_template = None
    bos_token = ""
    eos_token = ""

    def __init__(self, answer=None):
        self.prompts: list[str] = []
        self.max_tokens: list[int] = []
        self.answer = answer or (lambda chunk_text: chunk_text)
        self.closed = False

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def complete(self, prompt: str, max_tokens: int, temperature: float, seed: int, only=None) -> Completion:
        self.prompts.append(prompt)
        self.max_tokens.append(max_tokens)
        user = prompt.split("<|im_start|>user\n", 1)[1].rsplit("<|im_end|>", 1)[0]
        text = self.answer(user)
        return Completion(text, "stop", self.count_tokens(prompt), self.count_tokens(text), 0.01)

    def complete_many(self, asks, *, parallel, prefixes=()):
        self.parallel, self.prefixes = parallel, list(prefixes)
        return complete_in_turn(self, asks)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def recording_model() -> RecordingModel:
    return RecordingModel()


def run_cli(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real installed CLI in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "edgeclean", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def prompts(tiny_model):
    """Rewrite prompts of the fixture paper's first six 150-token chunks: the engine tests' shared input."""
    from edgeclean.stages.chunk import chunk_pages
    from edgeclean.stages.extract import PdfDocument
    from edgeclean.stages.model_pass import rewrite_prompt

    document = PdfDocument(PAPER)
    try:
        chunks = list(chunk_pages(document.pages([1, 2, 3]), tiny_model.count_tokens, 150))[:6]
    finally:
        document.close()
    return [rewrite_prompt(tiny_model, chunk.text) for chunk in chunks]
