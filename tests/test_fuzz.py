"""Mutated fixture PDFs through extraction and the CLI: no tracebacks, bounded time. Longer: bench/fuzz_pdf.py."""

import os
import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_pdf import CASE_SECONDS, SEEDS, extract_case, mutate

from .conftest import run_cli

EXAMPLES = int(os.environ.get("EDGECLEAN_FUZZ_EXAMPLES", "25"))


@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), base=st.sampled_from(SEEDS))
def test_extraction_of_mutated_pdfs_reads_or_refuses(tmp_path, seed, base):
    path = tmp_path / "case.pdf"
    path.write_bytes(mutate(random.Random(seed), base.read_bytes()))
    started = time.monotonic()
    assert extract_case(path) in {"read", "read, pages lost", "refused"}
    assert time.monotonic() - started < CASE_SECONDS


@settings(
    max_examples=max(3, EXAMPLES // 5),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), base=st.sampled_from(SEEDS))
def test_cli_on_mutated_pdfs_never_shows_a_traceback(tmp_path, seed, base):
    path = tmp_path / "case.pdf"
    path.write_bytes(mutate(random.Random(seed), base.read_bytes()))
    result = run_cli("info", str(path), timeout=CASE_SECONDS)
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1)
    if result.returncode:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
