"""PDFs written from text a test writes itself, so what extraction must give back is known exactly.

    text_pdf(path, ["page one", "page two"])      # one page per string; lines kept, long lines wrapped
    image_only_pdf(path)                            # a scanned page: pixels, no text layer
    encrypted_pdf(src, path, "secret")             # src, RC4-128 encrypted with a user password
    corrupted_pdf(path)                             # a .pdf file that is not a PDF at all

Fonts: text that Latin-1 can encode is set in Helvetica, one of PDF's standard fonts (nothing embedded, as
in many real PDFs); anything else in the committed subsets under tests/fonts (DejaVu Sans for Latin, Greek,
Arabic and symbols, Droid Sans Fallback for everyday Chinese and Japanese), so this works in a bare clone
with no system fonts. A character no font has is refused up front, naming it, rather than set as a blank box.
Arabic lines are set right to left, as a typesetter would (glyphs unshaped); see visual_order for what pypdf
gives back. Output is deterministic: the same pages give the same bytes.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

FONTS = Path(__file__).resolve().parent / "fonts"
UNICODE_FONTS = {
    "DejaVuSans": FONTS / "DejaVuSans-subset.ttf",
    "DroidSansFallback": FONTS / "DroidSansFallback-subset.ttf",
}
FIXED_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
LINE_SPACING = 1.3  # line height as a multiple of the font size, as word processors set body text
RTL_CHARACTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")  # Hebrew, Arabic and their forms
LEFT_TO_RIGHT_RUN = re.compile(r"[A-Za-z0-9\u00c0-\u024f]+(?:[.,:/-][A-Za-z0-9\u00c0-\u024f]+)*")
BIDI_RUNS = re.compile(rf"{LEFT_TO_RIGHT_RUN.pattern}|[^A-Za-z0-9\u00c0-\u024f]+")


@contextlib.contextmanager
def new_pdf() -> Iterator[FPDF]:
    """An A4 document in points with Helvetica and the committed Unicode fonts registered; closes their files."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_margins(56, 56)
    pdf.set_auto_page_break(True, margin=56)
    pdf.set_creation_date(FIXED_DATE)  # the same text gives the same bytes
    for name, file in UNICODE_FONTS.items():
        pdf.add_font(name, fname=str(file))
    pdf.set_fallback_fonts(["DroidSansFallback"])
    try:
        yield pdf
    finally:
        for font in pdf.fonts.values():
            if hasattr(font, "close"):
                font.close()


def use_font(pdf: FPDF, text: str, size: float) -> None:
    """Helvetica when Latin-1 encodes the text, else DejaVu Sans with Droid Sans Fallback for CJK."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        missing = sorted(set(text) - _covered() - set("\n\r\t"))
        if missing:
            raise ValueError(f"no committed font has {', '.join(f'{c!r} (U+{ord(c):04X})' for c in missing)}") from None
        pdf.set_font("DejaVuSans", size=size)
    else:
        pdf.set_font("Helvetica", size=size)


@functools.cache
def _covered() -> frozenset[str]:
    from fontTools.ttLib import TTFont

    covered = set()
    for file in UNICODE_FONTS.values():
        with TTFont(file) as font:
            covered.update(map(chr, font.getBestCmap()))
    return frozenset(covered)


def text_pdf(path, pages: list[str], *, font_size: float = 11) -> Path:
    """A PDF with one page per string (a string too long for one page runs on over extra pages)."""
    with new_pdf() as pdf:
        for text in pages:
            pdf.add_page()
            use_font(pdf, text, font_size)
            for line in text.split("\n"):
                write_line(pdf, line, font_size * LINE_SPACING)
        pdf.output(str(path))
    return Path(path)


def write_line(pdf: FPDF, line: str, height: float) -> None:
    """One line of text, wrapped at the right margin; a right-to-left line is set right to left."""
    if not RTL_CHARACTER.search(line):
        # A word wider than the line is broken between characters, with nothing added.
        pdf.multi_cell(0, height, line, new_x="LMARGIN", new_y="NEXT")
        return
    for part in wrap(pdf, line, pdf.w - pdf.l_margin - pdf.r_margin):
        pdf.cell(0, height, visual_order(part), align="R", new_x="LMARGIN", new_y="NEXT")


def wrap(pdf: FPDF, line: str, width: float) -> list[str]:
    """Greedy word wrap in logical order (right-to-left lines must be wrapped before they are reordered)."""
    lines, current = [], ""
    for word in line.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and pdf.get_string_width(candidate) > width:
            lines.append(current)
            candidate = word
        current = candidate
    return [*lines, current]


def visual_order(line: str) -> str:
    """A right-to-left line as a typesetter places it, left to right on the page: runs of Latin letters and
    digits keep their order, everything else is reversed. pypdf reads it back in logical order, except that
    punctuation ending the line comes out at its start and Latin words or digits inside the line come out of
    place (pypdf's reading of any right-to-left line): write Arabic test text without them."""
    return "".join(run if LEFT_TO_RIGHT_RUN.fullmatch(run) else run[::-1] for run in reversed(BIDI_RUNS.findall(line)))


def image_only_pdf(path) -> Path:
    """One page holding only a raster image of some 'printed' lines, as a scanner produces: no text layer."""
    scan = Image.new("L", (620, 877), 255)
    draw = ImageDraw.Draw(scan)
    for row in range(60, 800, 24):
        draw.rectangle((60, row, 560 - (row * 7) % 120, row + 9), fill=40)  # inked lines of "text"
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_page()
    pdf.image(scan, x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return Path(path)


def encrypted_pdf(src, path, password: str) -> Path:
    """A copy of src that opens only with password (RC4-128, as many real encrypted PDFs are)."""
    writer = PdfWriter(clone_from=PdfReader(src))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    writer._ID[1] = writer._ID[0]  # pypdf draws the second file ID at random; the same input gives the same bytes
    with open(path, "wb") as out:
        writer.write(out)
    return Path(path)


def corrupted_pdf(path) -> Path:
    """A file named .pdf that holds no PDF: a few bytes of text."""
    Path(path).write_bytes(b"This is not a valid PDF file at all.")
    return Path(path)
