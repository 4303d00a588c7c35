"""Model management: the registry, GGUF checks, and `edgeclean models` against a local hub that speaks its protocol."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeclean.errors import ModelError, ModelNotFound
from edgeclean.model.gguf_file import check_gguf, gguf_required_size
from edgeclean.model.registry import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    file_sha256,
    models_dir,
    recorded_sha256,
    resolve_model,
)

from .conftest import PAPER, run_cli
from .fakehub import FakeHub


def _truncated_copy(source, tmp_path, keep: int):
    target = tmp_path / "cut.gguf"
    with source.open("rb") as whole, target.open("wb") as part:
        part.write(whole.read(keep))
    return target


def test_gguf_header_accounts_for_every_byte_of_the_tiny_model(tiny_model_path):
    assert gguf_required_size(tiny_model_path) == tiny_model_path.stat().st_size
    check_gguf(tiny_model_path)


@pytest.mark.parametrize("keep", [1_000, 50_000_000, 98_362_431])
def test_truncated_gguf_is_refused_before_loading(tiny_model_path, tmp_path, keep):
    with pytest.raises(ModelError, match="truncated"):
        check_gguf(_truncated_copy(tiny_model_path, tmp_path, keep))


def test_clean_refuses_a_truncated_model_with_one_line(tiny_model_path, tmp_path):
    cut = _truncated_copy(tiny_model_path, tmp_path, 40_000_000)
    result = run_cli("clean", str(PAPER), "--model", str(cut), "--pages", "1", timeout=60)
    assert result.returncode == 1
    assert "truncated" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    fake = tmp_path / "fake.gguf"
    shutil.copy(__file__, fake)
    with pytest.raises(ModelError, match="not a GGUF"):
        check_gguf(fake)


# --- pulling from a local hub ------------------------------------------------------------------------------------

REPO = "bartowski/Llama-3.2-1B-Instruct-GGUF"
NAME = "llama-3.2-1b-instruct-q4_0"
FILENAME = "Llama-3.2-1B-Instruct-Q4_0.gguf"
KEY = f"{REPO}/{FILENAME}"


@pytest.fixture
def hub(tiny_model_path):
    """The tiny GGUF served as the Q4_0 Llama file (content differs, protocol is the hub's)."""
    server = FakeHub()
    server.serve(REPO, FILENAME, tiny_model_path)
    server.start()
    yield server
    server.stop()


def pull_cli(hub_endpoint: str, *args: str, env: dict | None = None, timeout: float = 120):
    return run_cli("models", "pull", *args, timeout=timeout, env={"HF_ENDPOINT": hub_endpoint, **(env or {})})


def models_path(*parts: str) -> Path:
    return models_dir().joinpath(*parts)


def test_pull_downloads_verifies_and_records_the_sha256(hub, tiny_model_path):
    result = pull_cli(hub.endpoint, NAME)
    assert result.returncode == 0, result.stderr
    pulled = models_path(FILENAME)
    assert file_sha256(pulled) == hub.sha256(KEY)
    assert recorded_sha256(pulled) == hub.sha256(KEY)
    assert "verified" in result.stderr
    assert [r.method for r in hub.requests] == ["HEAD", "GET"], hub.requests
    assert not list(models_dir().glob("*.part"))


def test_second_pull_is_a_cache_hit_with_the_hub_stopped(hub):
    assert pull_cli(hub.endpoint, NAME).returncode == 0
    endpoint = hub.endpoint
    hub.stop()
    result = pull_cli(endpoint, NAME)
    assert result.returncode == 0, result.stderr
    assert "already present" in result.stderr


@pytest.mark.parametrize("how", [["--offline"], []])
def test_offline_pull_never_connects_and_names_the_command(hub, how):
    env = {} if how else {"HF_HUB_OFFLINE": "1"}
    result = pull_cli(hub.endpoint, NAME, *how, env=env)
    assert result.returncode == 1
    assert hub.connections == 0 and hub.requests == []
    assert f"edgeclean models pull {NAME}" in result.stderr and FILENAME in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sha256_mismatch_is_refused_and_the_file_not_kept(hub):
    hub.advertised_sha256[KEY] = "ab" * 32
    result = pull_cli(hub.endpoint, NAME)
    assert result.returncode == 1
    assert "sha256 mismatch" in result.stderr and "Traceback" not in result.stderr
    assert not models_path(FILENAME).exists()
    assert not models_path(FILENAME + ".sha256").exists()
    assert not list(models_dir().glob("*.part"))


def test_a_file_missing_upstream_is_one_clear_line(hub):
    del hub.files[KEY]
    result = pull_cli(hub.endpoint, NAME)
    assert result.returncode == 1
    assert "not found (HTTP 404)" in result.stderr and FILENAME in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_an_interrupted_download_resumes_on_the_next_run(hub, tiny_model_path):
    hub.cut_after = 25_000_000
    hub.down_after_cut = False
    first = pull_cli(hub.endpoint, NAME)
    assert first.returncode == 1
    assert "Run the same command again to resume" in first.stderr
    (partial,) = models_dir().glob(f"{FILENAME}.*.part")
    kept = partial.stat().st_size
    assert 0 < kept <= 25_000_000
    assert not models_path(FILENAME).exists()

    hub.down_after_cut = False
    hub.requests.clear()
    second = pull_cli(hub.endpoint, NAME)
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stderr
    gets = [r for r in hub.requests if r.method == "GET"]
    assert [r.range for r in gets] == [f"bytes={kept}-"]
    assert file_sha256(models_path(FILENAME)) == file_sha256(tiny_model_path)
    assert not partial.exists()


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port whose connects hang, like a hub behind a firewall that drops packets: a full listen backlog."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            yield port
        finally:
            for filler in fillers:
                filler.close()


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    with socket.socket() as probe:  # bound, never listening: connects are refused
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


@pytest.mark.parametrize(
    "endpoint, port",
    [("http://127.0.0.1:{}", closed_port), ("http://127.0.0.1:{}", silent_port), ("http://192.0.2.1", None)],
    ids=["refused", "silent", "unroutable"],
)
def test_an_unreachable_hub_fails_fast(endpoint, port):
    with port() if port else contextlib.nullcontext(0) as number:
        started = time.perf_counter()
        result = pull_cli(endpoint.format(number), NAME, timeout=60)
        elapsed = time.perf_counter() - started
    assert result.returncode == 1
    assert "cannot reach the Hugging Face hub" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert elapsed < 5, f"took {elapsed:.1f}s to report an unreachable hub"


# --- list, verify, and clean's missing-model message ---------------------------------------------------------------


def test_list_shows_every_known_model_and_what_is_present(tiny_model_path):
    models_dir().mkdir(parents=True)
    (models_dir() / tiny_model_path.name).symlink_to(tiny_model_path)
    result = run_cli("models", "list", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(KNOWN_MODELS) <= set(rows)
    assert rows["smollm2-135m-instruct"]["present"] is True
    assert rows["smollm2-135m-instruct"]["bytes"] == tiny_model_path.stat().st_size
    assert rows[DEFAULT_MODEL]["present"] is False and rows[DEFAULT_MODEL]["default"] is True


def test_verify_catches_a_file_changed_after_pull(hub):
    assert pull_cli(hub.endpoint, NAME).returncode == 0
    assert run_cli("models", "verify", timeout=60).returncode == 0
    with models_path(FILENAME).open("r+b") as handle:
        handle.seek(50_000_000)
        handle.write(b"\xff\xfe")
    result = run_cli("models", "verify", timeout=60)
    assert result.returncode == 1
    assert "BAD" in result.stdout and "sha256 mismatch" in result.stdout


def test_offline_clean_with_a_missing_model_names_the_pull_command():
    result = run_cli("clean", str(PAPER), "--offline", "--model", NAME, timeout=60)
    assert result.returncode == 1
    assert f"`edgeclean models pull {NAME}`" in result.stderr and FILENAME in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_resolve_model_finds_known_names_paths_and_bare_file_names(tiny_model_path):
    models_dir().mkdir(parents=True)
    (models_dir() / tiny_model_path.name).symlink_to(tiny_model_path)
    assert resolve_model("smollm2-135m-instruct") == models_dir() / tiny_model_path.name
    assert resolve_model(tiny_model_path.name) == models_dir() / tiny_model_path.name
    assert resolve_model(str(tiny_model_path)) == tiny_model_path
    with pytest.raises(ModelNotFound, match="edgeclean models pull llama-3.2-1b-instruct-q4_k_m"):
        resolve_model(None)


@pytest.mark.model
def test_offline_clean_runs_with_a_pulled_model(tiny_model_path, tmp_path):
    models_dir().mkdir(parents=True)
    (models_dir() / tiny_model_path.name).symlink_to(tiny_model_path)
    result = run_cli(
        "clean",
        str(PAPER),
        "--offline",
        "--model",
        "smollm2-135m-instruct",
        "--pages",
        "1",
        "--chunk-tokens",
        "200",
        "--max-chars",
        "400",
        "-o",
        "out.txt",
        env={"HF_ENDPOINT": "http://192.0.2.1"},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").read_text().strip()


def test_pull_of_an_unknown_name_lists_the_known_ones():
    result = run_cli("models", "pull", "gpt-17", "--offline", timeout=60)
    assert result.returncode == 1
    assert "gpt-17" in result.stderr and DEFAULT_MODEL in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_copied_in_by_hand_is_checked_against_the_hub_and_recorded(hub, tiny_model_path):
    models_dir().mkdir(parents=True)
    shutil.copy(tiny_model_path, models_path(FILENAME))
    hub.advertised_sha256[KEY] = "cd" * 32
    refused = pull_cli(hub.endpoint, NAME)
    assert refused.returncode == 1 and "sha256 mismatch" in refused.stderr
    assert models_path(FILENAME).exists() and recorded_sha256(models_path(FILENAME)) is None

    del hub.advertised_sha256[KEY]
    accepted = pull_cli(hub.endpoint, NAME)
    assert accepted.returncode == 0, accepted.stderr
    assert recorded_sha256(models_path(FILENAME)) == hub.sha256(KEY)
    assert [r.method for r in hub.requests] == ["HEAD", "HEAD"]  # checked, never downloaded
