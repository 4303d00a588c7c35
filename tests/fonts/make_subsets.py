"""Rebuilds the two font subsets in this folder from Debian's font packages (run once; the outputs are committed).

    apt-get download fonts-dejavu-core fonts-droid-fallback   # no root needed
    dpkg-deb -x fonts-dejavu-core_*.deb x && dpkg-deb -x fonts-droid-fallback_*.deb x
    python tests/fonts/make_subsets.py x/usr/share/fonts/truetype

Subsets keep the repository small (the full CJK font is 4 MB) while covering what test documents are written
in: DejaVu Sans for Latin, Greek, Arabic and symbols; Droid Sans Fallback for the everyday Chinese (GB 2312
level 1) and Japanese (JIS X 0208 level 1 kanji, kana) characters and CJK punctuation.
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent


def _double_byte_charset(codec: str, rows: range) -> set[int]:
    """The characters of a two-byte EUC character set's rows (e.g. GB 2312 level 1 is rows 0xB0-0xD7)."""
    found = set()
    for high in rows:
        for low in range(0xA1, 0xFF):
            try:
                found.add(ord(bytes([high, low]).decode(codec)))
            except (UnicodeDecodeError, TypeError):
                pass
    return found


LATIN_GREEK_ARABIC = (
    set(range(0x20, 0x250))  # ASCII, Latin-1, Latin Extended-A and -B
    | set(range(0x370, 0x400))  # Greek
    | set(range(0x600, 0x700))  # Arabic
    | set(range(0x1E00, 0x1F00))  # Latin Extended Additional
    | set(range(0x2000, 0x2070))  # punctuation: dashes, quotes, bullets
    | set(range(0x20A0, 0x20C0))  # currency
    | set(range(0x2100, 0x2150))  # letterlike symbols
    | set(range(0x2190, 0x2300))  # arrows, mathematical operators
    | set(range(0xFB50, 0xFE00))  # Arabic presentation forms A
    | set(range(0xFE70, 0xFF00))  # Arabic presentation forms B
)
CJK = (
    _double_byte_charset("gb2312", range(0xA1, 0xAA))  # GB 2312 symbols, kana, full-width forms
    | _double_byte_charset("gb2312", range(0xB0, 0xD8))  # GB 2312 level 1: the 3,755 most used hanzi
    | _double_byte_charset("euc_jp", range(0xB0, 0xD0))  # JIS X 0208 level 1: the 2,965 most used kanji
    | set(range(0x3000, 0x3100))  # CJK punctuation, hiragana, katakana
    | set(range(0xFF00, 0xFFF0))  # full-width forms
)


def write_subset(source: Path, codepoints: set[int], target: Path) -> None:
    font = TTFont(source)
    present = {c for c in codepoints if c in font.getBestCmap()}
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.hinting = False
    options.drop_tables += ["FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=present)
    subsetter.subset(font)
    font.save(target)
    print(f"{target.name}: {len(present)} characters, {target.stat().st_size // 1024} KB")


if __name__ == "__main__":
    fonts = Path(sys.argv[1])
    write_subset(fonts / "dejavu" / "DejaVuSans.ttf", LATIN_GREEK_ARABIC, HERE / "DejaVuSans-subset.ttf")
    write_subset(fonts / "droid" / "DroidSansFallbackFull.ttf", CJK, HERE / "DroidSansFallback-subset.ttf")
