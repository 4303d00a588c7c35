"""Screenshot an edgeclean HTML report in headless Chromium (Debian's `chromium`), with one chunk opened.

python -m bench.report_screenshot paper.clean.txt.ckpt shot.png [--chunk 1]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgeclean.store.report import write_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(
    report: Path, *extra: str, chunk: int | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    url = report.resolve().as_uri() + (f"#chunk-{chunk}" if chunk else "")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def screenshot(report: Path, png: Path, chunk: int = 1) -> Path:
    result = run_chromium(report, f"--screenshot={png.resolve()}", "--window-size=1400,1000", chunk=chunk)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot: {result.stderr[-500:]}")
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--chunk", type=int, default=1)
    options = parser.parse_args()
    report = options.png.with_suffix(".html")
    write_report(options.checkpoint, report)
    print(f"report {report}, screenshot {screenshot(report, options.png, options.chunk)}")


if __name__ == "__main__":
    main()
