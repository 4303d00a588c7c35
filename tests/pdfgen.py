"""TEMPORARY stand-in until issue14's tests/pdfgen.py is merged: text_pdf(path, pages) with one page per string."""

from __future__ import annotations

from pathlib import Path

from .hostile import FONT, _stream, build_pdf


def _escape(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def text_pdf(path, pages: list[str]) -> Path:
    path = Path(path)
    count = len(pages)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    font_number = 3
    objects.append(FONT)
    for text in pages:
        page_number = len(objects) + 1
        kids.append(b"%d 0 R" % page_number)
        lines = text.splitlines() or [""]
        ops = b"BT /F1 11 Tf 14 TL 72 740 Td " + b" ".join(b"(" + _escape(line) + b") Tj T*" for line in lines) + b" ET"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (page_number + 1, font_number)
        )
        objects.append(_stream(ops))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % count
    path.write_bytes(build_pdf(objects))
    return path
