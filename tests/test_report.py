import html
import re
import struct

import pytest

from bench.report_screenshot import chromium, run_chromium, screenshot
from edgeclean.api import CleaningRun
from edgeclean.settings import CleanSettings
from edgeclean.store.report import side_by_side, write_report

from .conftest import PAPER, RecordingModel

SMALL = CleanSettings(chunk_tokens=200, mode="rewrite")


def drop_the_first_word(text: str) -> str:
    """A small enough edit for the guard to accept: one word dropped, one added."""
    return " ".join(text.split()[1:]) + " invented"


@pytest.fixture
def finished_run():
    run = CleaningRun(PAPER, RecordingModel(drop_the_first_word), SMALL, output="out.txt")
    list(run.results())
    run.finish()
    return run


def test_diff_marks_removed_and_added_words_and_escapes_everything():
    left, right = side_by_side("keep <script>alert(1)</script> drop this", "keep <script>alert(1)</script> new")
    assert "<script>" not in left + right and "&lt;script&gt;" in left
    assert "<del>drop this</del>" in left and "<ins>new</ins>" in right


def test_report_shows_every_chunk_collapsed_with_its_diff(finished_run, tmp_path):
    report = write_report(finished_run.checkpoint_path, tmp_path / "report.html")
    page = report.read_text()
    assert page.count('<details class="chunk"') == len(finished_run.chunks)
    assert '<details class="chunk" data-flag="kept" id="chunk-1">' in page, "collapsed by default"
    assert "<del>" in page and "<ins>invented</ins>" in page
    assert "recording-model" in page and "CPU" in page
    assert not re.search(r"(src|href)=\"https?:", page), "self-contained: no external assets"


def test_report_strikes_through_what_the_rules_removed_and_escapes_it(tmp_path):
    run = CleaningRun(PAPER, None, CleanSettings(mode="rules"), output="out.txt")
    list(run.results())
    run.finish()
    page = write_report(run.checkpoint_path, tmp_path / "report.html").read_text()
    removed = page.split('<details class="removed">', 1)[1].split("</details>", 1)[0]
    assert "<li><b>citations</b>: <del>(Touvron et al., 2023; Groeneveld et al., 2024)</del>" in removed
    assert "<del>https://example.org/edgeclean-paper</del>" in removed
    assert "<b>references</b>: <del>" in removed and "<b>math</b>: <del>L_KD = α" in removed
    output = run.output.read_text()
    struck = [html.unescape(span) for span in re.findall(r"<del>([^<]*)</del>", removed)]
    assert all(span not in output for span in struck if len(span) > 20), "struck spans are gone from the output"


def test_report_of_an_interrupted_run(tmp_path):
    run = CleaningRun(PAPER, RecordingModel(), SMALL, output="out.txt")
    next(run.results())
    run.close()
    page = write_report(run.checkpoint_path, tmp_path / "partial.html").read_text()
    assert page.count('<details class="chunk"') == 1
    assert f"1 of {len(run.chunks)} cleaned" in page


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (.ci/browser installs it)")
def test_report_loads_in_a_real_browser_and_shows_the_diff(finished_run, tmp_path):
    report = write_report(finished_run.checkpoint_path, tmp_path / "report.html")
    dom = run_chromium(report, "--dump-dom", chunk=1)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert 'data-ready="yes"' in dom.stdout, "the page's script ran to the end without an error"
    assert re.search(r'<details class="chunk" data-flag="\w+" id="chunk-1" open="">', dom.stdout)
    assert f"of {len(finished_run.chunks)} chunks shown" in dom.stdout
    png = screenshot(report, tmp_path / "report.png")
    width, height = struct.unpack(">II", png.read_bytes()[16:24])
    assert (width, height) == (1400, 1000)
    assert png.stat().st_size > 20_000, "a blank page compresses to almost nothing"
