"""Which documents a corpus run has: inputs (files, folders, globs, lists of paths) to stable ids and outputs.

A document's id is its path relative to the input it was found under, without ``.pdf`` (``sub/paper``); its
output is ``OUTDIR/ID.clean.txt``, so ``paper.pdf`` given directly writes ``OUTDIR/paper.clean.txt``, as
``edgeclean clean paper.pdf -o OUTDIR/`` does.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, SettingsError
from ..paths import OUTPUT_SUFFIX

LIST_SUFFIXES = (".txt", ".lst")  # a file of paths, one a line


@dataclass(frozen=True)
class Document:
    id: str
    pdf: Path
    output: Path

    @property
    def done(self) -> bool:
        """Outputs are published by rename, so one that exists is complete."""
        return self.output.is_file()


def list_documents(inputs: list[str | Path], outdir: Path) -> list[Document]:
    """Every PDF under the inputs, once each, sorted by id; two PDFs that would share an output are refused."""
    found: dict[str, Path] = {}
    for item in inputs:
        try:
            expanded = _expand(str(item))
        except OSError as error:  # a folder or list this user may not read
            raise InputError(f"{item}: cannot read it ({error.strerror or error})") from None
        for doc_id, pdf in expanded:
            if doc_id in found and found[doc_id].resolve() != pdf.resolve():
                raise SettingsError(f"{found[doc_id]} and {pdf} would both write {doc_id}{OUTPUT_SUFFIX}; rename one")
            found[doc_id] = pdf
    if not found:
        raise InputError(f"no PDF files in {', '.join(map(str, inputs))}")
    return [Document(i, found[i], outdir / f"{i}{OUTPUT_SUFFIX}") for i in sorted(found)]


def _expand(item: str) -> list[tuple[str, Path]]:
    path = Path(item)
    if path.is_dir():
        return [(_id(pdf.relative_to(path)), pdf) for pdf in sorted(path.rglob("*")) if _is_pdf(pdf)]
    if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
        lines = path.read_text(encoding="utf-8").splitlines()
        listed = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        return [pair for line in listed for pair in _expand(str(path.parent / line))]
    if path.is_file():
        return [(_id(Path(path.name)), path)]
    if glob.has_magic(item):
        return [
            (_id(Path(match.name)), match)
            for match in map(Path, sorted(glob.glob(item, recursive=True)))
            if match.is_file()
        ]
    raise InputError(f"{item}: no such file or folder")


def _is_pdf(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".pdf"


def _id(relative: Path) -> str:
    return relative.with_suffix("").as_posix() if relative.suffix.lower() == ".pdf" else relative.as_posix()
