"""Weights in 2 MB pages: what is asked for, what the kernel does with it, values unchanged."""

import platform
import sys
from pathlib import Path

import pytest
import torch

from slmlab.model import huge_pages
from slmlab.model.huge_pages import PAGE, use_huge_pages

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _collapse_offered() -> bool:
    """Linux with transparent huge pages on (always or madvise) and MADV_COLLAPSE (6.1+)."""
    if sys.platform != "linux" or not THP.exists() or "[never]" in THP.read_text():
        return False
    major, minor = (int(x) for x in platform.release().split(".")[:2])
    return (major, minor) >= (6, 1)


def _huge_bytes_at(address: int) -> int:
    """AnonHugePages of the memory mapping holding ``address`` (/proc/self/smaps), in bytes."""
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):  # a mapping's first line: start-end ...
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= address < end
        elif inside and head == "AnonHugePages:":
            return int(line.split()[1]) * 1024
    return 0


def _whole_pages(tensor) -> int:
    """Bytes of the whole 2 MB pages inside the tensor's storage (counted from the page
    numbers, apart from the library's rounding)."""
    storage = tensor.untyped_storage()
    start, end = storage.data_ptr(), storage.data_ptr() + storage.nbytes()
    return max(0, end // PAGE - (start + PAGE - 1) // PAGE) * PAGE


@pytest.mark.skipif(not _collapse_offered(), reason="needs Linux 6.1+ with transparent huge "
                    "pages not switched off")
def test_a_large_tensor_moves_onto_huge_pages_with_its_values():
    torch.manual_seed(0)
    weight = torch.randn(3_000_000)  # 12 MB: at least four whole 2 MB pages inside
    copy = weight.clone()
    if "[madvise]" in THP.read_text():  # only asked-for memory gets 2 MB pages: 4 KB ones now
        assert _huge_bytes_at(weight.data_ptr() + PAGE) == 0
    asked = use_huge_pages([weight])
    assert asked == _whole_pages(weight) >= 4 * PAGE
    assert _huge_bytes_at(weight.data_ptr() + PAGE) >= asked
    assert torch.equal(weight, copy)
    assert use_huge_pages([weight]) == asked  # asking again is harmless


def test_small_tensors_and_other_devices_are_left_alone():
    small = torch.zeros(1000)  # 4 KB: no whole 2 MB page inside
    assert use_huge_pages([small, torch.empty(10_000_000, device="meta")]) == 0


def test_where_madvise_is_not_offered_nothing_is_asked(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(huge_pages, "_madvise", None)
    weight = torch.ones(3_000_000)
    assert use_huge_pages([weight]) == 0
    assert torch.equal(weight, torch.ones(3_000_000))
