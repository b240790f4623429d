"""hardware_model.formats: bits per element with scales, worked out by hand from block layouts."""

import pytest

from hardware_model import formats


@pytest.mark.parametrize(
    "name, bits",
    [
        ("fp32", 32),
        ("fp16", 16),
        ("bf16", 16),
        ("int8", 8),
        ("q8_0", 8.5),  # 32 x 8 bits + one 16-bit scale, over 32 weights
        ("q4_0", 4.5),  # 32 x 4 bits + one 16-bit scale, over 32 weights
        ("int4", 4.125),  # default group 128: 4 + 16/128
        ("int4-g32", 4.5),
        ("int4-g64", 4.25),
        ("int4-g7", 4 + 16 / 7),  # any group size parses
        ("nf4", 4.5),  # fp32 absmax per 64: 4 + 32/64
        ("nf4-dq", 4 + 8 / 64 + 32 / (64 * 256)),  # 8-bit absmax, fp32 scale per 256 of them
    ],
)
def test_bits_per_weight(name, bits):
    assert formats.bits_per_weight(name) == pytest.approx(bits)
    assert formats.get(name).bytes == pytest.approx(bits / 8)


def test_compute_formats_and_kinds():
    assert formats.get("q4_0").compute == "int8"  # llama.cpp: q4 x q8 integer dot products
    assert formats.get("nf4").compute == "bf16"  # bitsandbytes dequantizes to bf16
    assert formats.get("int4-g64").compute == "int4"
    assert formats.get("q8_0", "kv").bits == pytest.approx(8.5)
    assert formats.get("int8", "activation").bits == 8
    names = formats.names("weight")
    bits = [formats.get(n).bits for n in names]
    assert bits == sorted(bits, reverse=True)
    assert "q4_0" not in formats.names("activation")


@pytest.mark.parametrize(
    "args, exc, words",
    [
        (("q3_x",), ValueError, "unknown weight format 'q3_x'; allowed: .*q4_0"),
        (("int4-g0",), ValueError, "unknown weight format"),
        (("q4_0", "activation"), ValueError, "unknown activation format"),
        (("fp16", "bias"), ValueError, "kind must be one of"),
        ((16,), TypeError, "must be a name"),
    ],
)
def test_bad_names(args, exc, words):
    with pytest.raises(exc, match=words):
        formats.get(*args)
