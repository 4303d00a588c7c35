"""Model management: the registry, GGUF checks, and `edgeclean models` against a local hub that speaks its protocol."""

from __future__ import annotations

import shutil

import pytest

from edgeclean.backend import check_gguf, gguf_required_size
from edgeclean.errors import ModelError

from .conftest import MULTI_PAGE, run_cli


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
    result = run_cli("clean", str(MULTI_PAGE), "--model", str(cut), "--pages", "1", timeout=60)
    assert result.returncode == 1
    assert "truncated" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    fake = tmp_path / "fake.gguf"
    shutil.copy(__file__, fake)
    with pytest.raises(ModelError, match="not a GGUF"):
        check_gguf(fake)
