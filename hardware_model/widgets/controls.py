"""Pieces both widgets share: the context menu, one look for every control, and the
registries that turn preset names or objects into menu entries."""

from __future__ import annotations

import ipywidgets as W

from hardware_model import chips as chip_presets
from hardware_model import models as model_presets
from hardware_model.arch import Arch
from hardware_model.chip import Chip

CONTEXTS = (0, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)


def _control(cls, description: str, **kwargs):
    return cls(description=description, style={"description_width": "110px"},
               layout=W.Layout(width="360px"), **kwargs)  # fmt: skip


def _registry(items, get, kind: str, cls) -> dict:
    """name -> object for a list of preset names and/or objects, in the given order."""
    if isinstance(items, (str, cls)) or not hasattr(items, "__iter__"):
        raise TypeError(f"{kind}s must be a list of preset names or hm.{cls.__name__} objects")
    out = {}
    for item in items:
        _pick(item, out, get, kind, cls)
    if not out:
        raise ValueError(f"{kind}s must not be empty")
    return out


def _registries(models, chips) -> tuple[dict, dict]:
    """The model and chip menus of a widget: the given lists, or every preset (None)."""
    reg_m = _registry(model_presets.names() if models is None else models,
                      model_presets.get, "model", Arch)  # fmt: skip
    reg_c = _registry(chip_presets.names() if chips is None else chips,
                      chip_presets.get, "chip", Chip)  # fmt: skip
    return reg_m, reg_c


def _pick(value, registry: dict, get, kind: str, cls) -> str:
    """The registry name of `value` (a preset name or an object; added to the registry)."""
    if not isinstance(value, (str, cls)):
        raise TypeError(f"{kind} must be a preset name (str) or a hm.{cls.__name__}, got {value!r}")
    obj = get(value)  # unknown names: ValueError listing the presets
    if registry.setdefault(obj.name, obj) != obj:
        raise ValueError(f"two different {kind}s are named {obj.name!r}; rename one")
    return obj.name



def _with_option(options, value) -> list:
    return sorted({*options, value})
