"""Refuse a model file llama.cpp would crash on: missing, not GGUF, or truncated (its tensors run past its end)."""

from __future__ import annotations

import math
import mmap
import struct
from pathlib import Path

from ..errors import ModelError, ModelNotFound

GGUF_MAGIC = b"GGUF"


def check_gguf(path: Path) -> None:
    """Refuse a missing, non-GGUF or truncated file before llama.cpp gets a chance to crash on it.

    Reads the header, walks the metadata and tensor table (no tensor data), and checks the file is long
    enough for every tensor; a Llama 3.2 1B header takes well under a second.
    """
    if not path.is_file():
        raise ModelNotFound(str(path), "Pass --model with the path of a GGUF file.")
    with path.open("rb") as handle:
        header = handle.read(8)
    if len(header) < 8 or header[:4] != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (bad header)")
    version = int.from_bytes(header[4:8], "little")
    if version not in (2, 3):
        raise ModelError(f"{path} is GGUF version {version}; this llama.cpp reads versions 2 and 3")
    size = path.stat().st_size
    try:
        needed = gguf_required_size(path)
    except _TruncatedHeader:
        ends = f"its GGUF header ends early, at {size:,} bytes"
        raise ModelError(f"{path} is truncated: {ends}; download it again") from None
    if size < needed:
        raise ModelError(f"{path} is truncated: {size:,} bytes but its tensors need {needed:,}; download it again")


def gguf_required_size(path: Path) -> int:
    """How many bytes a GGUF file must have: its header, metadata, tensor table and the data they describe."""
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        reader = _GgufReader(data)
        tensor_count, kv_count = reader.u64(), reader.u64()
        alignment = 32
        for _ in range(kv_count):
            key = reader.string()
            value = reader.value(reader.u32())
            if key == "general.alignment" and isinstance(value, int) and value > 0:
                alignment = value
        end_of_data = 0
        for _ in range(tensor_count):
            reader.string()
            dims = [reader.u64() for _ in range(reader.u32())]
            ggml_type, offset = reader.u32(), reader.u64()
            end_of_data = max(end_of_data, offset + _tensor_bytes(ggml_type, dims))
        data_start = -(-reader.position // alignment) * alignment
        return data_start + end_of_data


class _TruncatedHeader(Exception):
    """The file ends (or holds nonsense) before its GGUF header does."""


# GGUF metadata value types: fixed-size scalars by struct format; 8 is a string, 9 an array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9

# ggml tensor types: (elements per block, bytes per block), from ggml.c's type_traits. A type missing
# here (a newer quantization) counts as one byte, so the check stays a lower bound instead of failing.
_GGML_BLOCKS = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
}


def _tensor_bytes(ggml_type: int, dims: list[int]) -> int:
    if ggml_type not in _GGML_BLOCKS:
        return 1
    elements = math.prod(dims)
    per_block, block_bytes = _GGML_BLOCKS[ggml_type]
    return -(-elements // per_block) * block_bytes


class _GgufReader:
    """Little-endian reads from a memory-mapped GGUF header that raise _TruncatedHeader past the end."""

    def __init__(self, data: mmap.mmap):
        self.data = data
        self.position = 8  # after magic and version

    def _unpack(self, fmt: str):
        try:
            (value,) = struct.unpack_from("<" + fmt, self.data, self.position)
        except struct.error:
            raise _TruncatedHeader() from None
        self.position += struct.calcsize(fmt)
        return value

    def u32(self) -> int:
        return self._unpack("I")

    def u64(self) -> int:
        return self._unpack("Q")

    def string(self) -> str:
        start = self.skip_string()
        return self.data[start : self.position].decode("utf-8", errors="replace")

    def skip_string(self) -> int:
        """Step over a string, returning where its bytes start."""
        length = self.u64()
        start = self.position
        self.position += length
        if self.position > len(self.data):
            raise _TruncatedHeader()
        return start

    def value(self, kind: int):
        if kind in _SCALARS:
            return self._unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.u32(), self.u64()
            self._skip_array(item_kind, count)
            return None
        raise _TruncatedHeader()  # an unknown type code: the header is corrupt

    def _skip_array(self, item_kind: int, count: int) -> None:
        if item_kind in _SCALARS:
            self.position += count * struct.calcsize(_SCALARS[item_kind])
            if self.position > len(self.data):
                raise _TruncatedHeader()
            return
        for _ in range(count):  # strings (a tokenizer's vocabulary) and nested arrays: walk them
            if item_kind == _STRING:
                self.skip_string()
            else:
                self.value(item_kind)
