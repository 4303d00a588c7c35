"""Small hand-built PDFs that attack a parser: bombs, deep nesting, cycles, lying page counts."""

from __future__ import annotations

import zlib


def build_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """Assemble numbered objects (1-based, in order) into a PDF with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def _stream(data: bytes, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _text(words: str) -> bytes:
    return b"BT /F1 12 Tf 72 720 Td (" + words.encode() + b") Tj ET"


def two_pages(
    first_content: bytes,
    *,
    first_compressed: bool = False,
    extra_root: bytes = b"",
    page_count: int = 2,
    first_page_extra: bytes = b"",
) -> bytes:
    """Page 1 carries the attack; page 2 is ordinary text that must survive it."""
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R " + extra_root + b" >>",
            b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count %d >>" % page_count,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
            b"/Resources << /Font << /F1 7 0 R >> >> " + first_page_extra + b" >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R "
            b"/Resources << /Font << /F1 7 0 R >> >> >>",
            _stream(first_content, compress=first_compressed),
            _stream(_text("The second page survives the attack on the first page.")),
            FONT,
            b"<< /Type /Outlines /First 9 0 R /Last 9 0 R /Count 1 >>",
            b"<< /Title (loop) /Parent 8 0 R /Next 9 0 R /Prev 9 0 R /First 9 0 R /Dest [3 0 R /Fit] >>",
        ]
    )


def decompression_bomb(megabytes: int = 70) -> bytes:
    """About ``megabytes`` of text operators squeezed into a stream of well under a megabyte."""
    operators = b"BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n"
    return two_pages(operators * (megabytes * 1_000_000 // len(operators)), first_compressed=True)


def deep_nesting(depth: int = 20_000) -> bytes:
    return two_pages(_text("nested page"), first_page_extra=b"/Deep " + b"[" * depth + b"]" * depth)


def cyclic_outline() -> bytes:
    return two_pages(_text("First page text with an outline that loops forever."), extra_root=b"/Outlines 8 0 R")


def lying_page_count() -> bytes:
    return two_pages(_text("Only two pages really exist here."), page_count=2_000_000_000)
