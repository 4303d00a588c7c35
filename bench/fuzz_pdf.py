"""Feed mutated bytes of PDFs to extraction: every case must end in text or InputError, in time.

    python -m bench.fuzz_pdf --cases 500
    python -m bench.fuzz_pdf --cases 500 --corpus ../shared/corpus   # also mutate the real-PDF corpus

The seeds are the generated fixtures in tests/fixtures, plus, with --corpus (or $EDGECLEAN_CORPUS), the real
PDFs of a corpus.

Prints how many cases were read, refused with a clear error, or lost pages, and the slowest case.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from edgeclean.errors import InputError
from edgeclean.stages.extract import PdfDocument

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SEEDS = sorted(FIXTURES.glob("*.pdf"))
CASE_SECONDS = 60  # a case must finish within this, whatever the parser meets


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to four random edits: flip bytes, cut the file, duplicate or delete a span, or insert junk."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        edit = rng.choice(("flip", "cut", "duplicate", "delete", "junk"))
        at = rng.randrange(len(data))
        if edit == "flip":
            for _ in range(rng.randint(1, 64)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif edit == "cut":
            del data[at:]
        elif edit == "duplicate":
            data[at:at] = data[at : at + rng.randint(1, 4096)]
        elif edit == "delete":
            del data[at : at + rng.randint(1, 4096)]
        else:
            data[at:at] = rng.choice([b"[" * 5000, b"<<" * 3000, b"9999999999 0 R ", b"/Count 999999999 ", b"\0" * 512])
    return bytes(data)


def extract_case(path: Path, page_seconds: float = 10) -> str:
    """Run extraction on one file; returns 'read', 'read, pages lost' or 'refused'; anything else raises."""
    try:
        with PdfDocument(path, page_seconds=page_seconds) as document:
            for _ in document.pages():
                pass
            document.metadata()
            return "read, pages lost" if document.lost_pages else "read"
    except InputError:
        return "refused"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=os.environ.get("EDGECLEAN_CORPUS"), help="add its PDFs")
    options = parser.parse_args()
    seeds = list(SEEDS)
    if options.corpus:
        corpus_pdfs = sorted(Path(options.corpus).rglob("*.pdf"))
        if not corpus_pdfs:
            parser.error(f"no PDFs in the corpus at {options.corpus}")
        seeds += corpus_pdfs
    print(f"seeds: {len(seeds)} PDFs ({len(SEEDS)} fixtures, {len(seeds) - len(SEEDS)} from a corpus)")
    rng = random.Random(options.seed)
    outcomes: Counter[str] = Counter()
    slowest = 0.0
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "case.pdf"
        for _ in range(options.cases):
            path.write_bytes(mutate(rng, rng.choice(seeds).read_bytes()))
            started = time.perf_counter()
            outcomes[extract_case(path)] += 1
            slowest = max(slowest, time.perf_counter() - started)
    print(f"cases: {options.cases}; " + ", ".join(f"{name}: {count}" for name, count in sorted(outcomes.items())))
    print(f"slowest case: {slowest:.1f} s (limit {CASE_SECONDS} s); crashes: 0")
    sys.exit(0 if slowest < CASE_SECONDS else 1)


if __name__ == "__main__":
    main()
