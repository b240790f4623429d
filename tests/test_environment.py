"""environment.yml (conda/Binder) carries exactly the pins of pyproject.toml."""

import re
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def pyproject_pins(python: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for items in project["optional-dependencies"].values():
        reqs += [r for r in items if not r.startswith("slm-edge-lab")]
    pins = {}
    for line in reqs:
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({"python_version": python}):
            continue
        (spec,) = req.specifier  # exactly one specifier: an exact pin
        assert spec.operator == "==", f"{line}: pin exactly with =="
        pins[req.name.lower()] = spec.version
    return pins


def environment_pins() -> tuple[str, dict[str, str]]:
    text = (ROOT / "environment.yml").read_text()
    python = re.search(r"^\s*-\s*python=(\S+)\s*$", text, re.M).group(1)
    pins = dict(re.findall(r"^\s*-\s*([A-Za-z0-9_.\-]+)==(\S+)\s*$", text, re.M))
    return python, {k.lower(): v for k, v in pins.items()}


def test_environment_yml_matches_pyproject():
    python, env = environment_pins()
    assert env == pyproject_pins(python)
    assert "-e ." in (ROOT / "environment.yml").read_text()


def test_every_python_gets_a_pin_for_every_package():
    names = {Requirement(r).name for r in tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    for python in ("3.10", "3.11", "3.12"):
        assert set(pyproject_pins(python)) >= {n.lower() for n in names}


def test_markers_split_cleanly():
    # Each package has at most one pin for any Python version.
    for python in ("3.10", "3.11"):
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        seen = []
        for line in project["dependencies"]:
            req = Requirement(line)
            if not req.marker or Marker(str(req.marker)).evaluate({"python_version": python}):
                seen.append(req.name)
        assert len(seen) == len(set(seen))
