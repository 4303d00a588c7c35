"""edgeclean.model.gguf_file: the hand-written GGUF check, against the real tiny model and copies of it
cut or corrupted at each point of the file (header, metadata, tensor table, tensor data)."""

from __future__ import annotations

import struct

import pytest

from edgeclean.errors import ModelError, ModelNotFound
from edgeclean.model.gguf_file import check_gguf, gguf_required_size

# Where the tiny model's parts lie (SmolLM2-135M-Instruct.Q4_1.gguf): the metadata runs to about byte 1,769,500
# (the tokenizer's vocabulary and merges are most of it), the tensor table to 1,785,644, the data from 1,785,664.
TINY_SIZE = 98_362_432
HEADER_END = 1_785_664


def _cut(source, tmp_path, keep: int):
    target = tmp_path / f"cut{keep}.gguf"
    with source.open("rb") as whole, target.open("wb") as part:
        part.write(whole.read(keep))
    return target


def test_the_tiny_model_passes_and_needs_every_byte(tiny_model_path):
    assert gguf_required_size(tiny_model_path) == TINY_SIZE == tiny_model_path.stat().st_size
    check_gguf(tiny_model_path)


@pytest.mark.parametrize(
    "keep",
    [
        24,  # magic, version and tensor count: the metadata count is cut
        100,  # in the first metadata key
        900_000,  # in the tokenizer's vocabulary
        1_769_470,  # in the last metadata value
        1_775_000,  # in the tensor table
        HEADER_END - 10,  # in the alignment padding after the tensor table
    ],
)
def test_a_cut_header_ends_early(tiny_model_path, tmp_path, keep):
    cut = _cut(tiny_model_path, tmp_path, keep)
    with pytest.raises(ModelError) as caught:
        check_gguf(cut)
    assert str(caught.value) == f"{cut} is truncated: its GGUF header ends early, at {keep:,} bytes; download it again"


@pytest.mark.parametrize("keep", [HEADER_END, 50_000_000, TINY_SIZE - 1])
def test_cut_tensor_data_is_measured_against_what_the_tensors_need(tiny_model_path, tmp_path, keep):
    cut = _cut(tiny_model_path, tmp_path, keep)
    with pytest.raises(ModelError) as caught:
        check_gguf(cut)
    expected = f"{cut} is truncated: {keep:,} bytes but its tensors need {TINY_SIZE:,}; download it again"
    assert str(caught.value) == expected
    assert gguf_required_size(cut) == TINY_SIZE


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(ModelNotFound, match="model not found: .*Pass --model"):
        check_gguf(tmp_path / "absent.gguf")


@pytest.mark.parametrize("content", [b"", b"GGU", b"%PDF-1.7\n" + b"x" * 100])
def test_a_file_that_is_not_gguf_is_refused(tmp_path, content):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(content)
    with pytest.raises(ModelError, match=r"is not a GGUF model file \(bad header\)"):
        check_gguf(fake)


@pytest.mark.parametrize("version", [1, 4, 0x03000000])  # the last: a big-endian version 3 file
def test_an_unsupported_version_is_refused(tiny_model_path, tmp_path, version):
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF" + struct.pack("<I", version) + _cut(tiny_model_path, tmp_path, 4096).read_bytes()[8:])
    with pytest.raises(ModelError, match=f"is GGUF version {version}; this llama.cpp reads versions 2 and 3"):
        check_gguf(other)


def _gguf(tmp_path, kv: bytes, tensors: bytes = b"", n_kv: int = 1, n_tensors: int = 0):
    path = tmp_path / "made.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + kv + tensors)
    return path


def _string(text: str) -> bytes:
    return struct.pack("<Q", len(text)) + text.encode()


def test_an_array_claiming_more_items_than_the_file_holds_ends_early_at_once(tmp_path):
    """A corrupt count is refused at once (the gguf package's reader looped over 2**40 empty reads, growing)."""
    made = _gguf(tmp_path, _string("a") + struct.pack("<IIQ", 9, 0, 2**40))
    with pytest.raises(ModelError, match="its GGUF header ends early, at 49 bytes"):
        check_gguf(made)


def test_an_unknown_value_type_ends_early(tmp_path):
    made = _gguf(tmp_path, _string("a") + struct.pack("<I", 99) + b"\0" * 64)
    with pytest.raises(ModelError, match="its GGUF header ends early"):
        check_gguf(made)


def test_a_tensor_of_an_unknown_type_counts_one_byte(tmp_path):
    """A quantization newer than the installed gguf: a lower bound, as llama.cpp may still read it."""
    tensor = _string("t") + struct.pack("<I", 1) + struct.pack("<Q", 4096) + struct.pack("<IQ", 9999, 0)
    made = _gguf(tmp_path, b"", tensor, n_kv=0, n_tensors=1)
    header = 24 + len(tensor)
    data_start = -(-header // 32) * 32
    with made.open("ab") as out:
        out.write(b"\0" * (data_start - header))
    with pytest.raises(ModelError, match=f"{data_start:,} bytes but its tensors need {data_start + 1:,}"):
        check_gguf(made)
    with made.open("ab") as out:
        out.write(b"\0")
    check_gguf(made)
    assert gguf_required_size(made) == data_start + 1


def test_an_f32_tensor_needs_four_bytes_an_element(tmp_path):
    tensor = _string("t") + struct.pack("<I", 2) + struct.pack("<QQ", 3, 5) + struct.pack("<IQ", 0, 0)
    alignment = _string("general.alignment") + struct.pack("<II", 4, 64)
    made = _gguf(tmp_path, alignment, tensor, n_tensors=1)
    assert 24 + len(alignment) + len(tensor) == 98  # so the data starts at 128, the next multiple of 64
    assert gguf_required_size(made) == 128 + 3 * 5 * 4
