"""Where a run's files go: one naming rule for the output, its checkpoint, the checkpoint's lock and the report.

``paper.pdf`` is cleaned into ``paper.clean.txt`` in the current folder (or ``-o``); its checkpoint is
``paper.clean.txt.ckpt`` beside it, locked through ``paper.clean.txt.ckpt.lock``, and its report is
``paper.clean.txt.report.html``. ``-o -`` (stdout) keeps its checkpoint here as ``paper.stdout.ckpt``: its
fingerprint says stdout, so even a file output named ``paper.stdout`` cannot resume from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STDOUT = Path("-")
OUTPUT_SUFFIX = ".clean.txt"
CHECKPOINT_SUFFIX = ".ckpt"
STDOUT_CHECKPOINT_SUFFIX = ".stdout.ckpt"
LOCK_SUFFIX = ".lock"
REPORT_SUFFIX = ".report.html"


@dataclass(frozen=True)
class RunPaths:
    pdf: Path
    output: Path
    checkpoint: Path
    report: Path | None = None

    @classmethod
    def of(cls, pdf: str | Path, output: str | Path | None = None, report: str | Path | None = None) -> RunPaths:
        pdf = Path(pdf)
        output = Path(output) if output is not None else default_output(pdf)
        return cls(pdf, output, checkpoint_path(output, pdf), Path(report) if report is not None else None)

    @classmethod
    def in_folders(cls, pdf: Path, folder: Path, report_folder: Path | None) -> RunPaths:
        """One of several PDFs: NAME.clean.txt in ``folder``, NAME.report.html in ``report_folder``."""
        report = report_folder / f"{pdf.stem}{REPORT_SUFFIX}" if report_folder is not None else None
        return cls.of(pdf, folder / default_output(pdf).name, report)

    @property
    def to_stdout(self) -> bool:
        return self.output == STDOUT


def default_output(pdf: Path) -> Path:
    return Path(f"{pdf.stem}{OUTPUT_SUFFIX}")


def checkpoint_path(output: Path, pdf: Path) -> Path:
    if output == STDOUT:
        return Path(f"{pdf.stem}{STDOUT_CHECKPOINT_SUFFIX}")
    return output.with_name(output.name + CHECKPOINT_SUFFIX)


def lock_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + LOCK_SUFFIX)


def checkpoint_of(path: Path) -> Path:
    """The checkpoint a user means by ``path``: an output file's OUTPUT.ckpt, or the path itself if it names one."""
    return path if path.name.endswith(CHECKPOINT_SUFFIX) else path.with_name(path.name + CHECKPOINT_SUFFIX)


def output_of(checkpoint: Path, to_stdout: bool) -> Path:
    """The output a checkpoint was made for (``to_stdout``: its fingerprint says stdout)."""
    if to_stdout and checkpoint.name.endswith(STDOUT_CHECKPOINT_SUFFIX):
        return STDOUT
    return checkpoint.with_name(checkpoint.name.removesuffix(CHECKPOINT_SUFFIX))


def default_report(checkpoint: Path) -> Path:
    return checkpoint.with_name(run_name(checkpoint) + REPORT_SUFFIX)


def run_name(checkpoint: Path) -> str:
    """How reports and messages name a run: its checkpoint's name without ``.ckpt``."""
    return checkpoint.name.removesuffix(CHECKPOINT_SUFFIX)
