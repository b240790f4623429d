"""Synthetic machine fault reports: the course's task.

A report is one line of sensor readings, then a diagnosis label and a one-sentence explanation:

    temp=97 vib=3.1 cur=12 pres=4.5 rpm=1480 hum=45
    diagnosis: overheating; temp 97 is 90 or more.

The prompt is everything up to and including ``diagnosis:``; the answer is a space, the label,
``;``, the explanation and a newline. A model that learns the task reads the prompt and
generates the answer; :func:`parse_diagnosis` pulls the label back out of what it generated.

Channels (fixed order in the text; ``decimals`` digits after the point):

    key   quantity            unit  decimals  valid range   glitch (full scale)
    temp  temperature         C     0         -40 .. 150    999
    vib   vibration velocity  mm/s  1         0 .. 50.0     99.9
    cur   motor current       A     0         0 .. 100      999
    pres  line pressure       bar   1         0 .. 20.0     99.9
    rpm   shaft speed         rpm   0         0 .. 6000     9999
    hum   relative humidity   %     0         0 .. 100      999

Rule table (checked top to bottom, the first rule that holds decides the label):

    priority  label         rule
    1         stall         rpm < 300 and cur >= 20
    2         overload      cur >= 20            (so rpm >= 300, or rpm glitched)
    3         overheating   temp >= 90
    4         bearing_wear  vib >= 7.0
    5         leak          pres < 2.0
    6         blockage      pres >= 8.0
    7         condensation  hum >= 85 and temp < 40
    -         normal        none of the above

A reading outside its channel's valid range is a sensor glitch: every comparison on it is false.

Noise: with probability ``noise`` a report carries one glitch, a channel stuck at its full-scale
value (999, 99.9 or 9999). The label is the rule table applied to the machine's true (clean)
readings, and the glitch is only ever put on a channel the deciding rule does not read, so the
rule table applied to the displayed readings (glitch = false comparisons) gives the same label:
the label is a ground truth either way, and the explanation says which reading was ignored.

Difficulty (0..1) moves the sampling bands towards the thresholds and makes other channels stray
more often. Each channel has named bands (e.g. temp: cold < 40 <= warm < 90 <= hot); at
difficulty 0 a band keeps a safe distance from its thresholds (warm = 48..82), at 1 it reaches
them (warm = 40..89), linearly in between. A channel the label does not pin is drawn from its
usual band with probability 1 - p and from another band with probability p = 0.05 + 0.25 *
difficulty; a draw whose rule-table label is not the one asked for is thrown away and redrawn,
so other, lower-priority faults (and near misses such as a high humidity on a warm machine)
appear beside the real one more often as difficulty grows. At the default, 0.3 (warm =
46..84, p = 0.125), the zoo's 1.8M-parameter character model ("fault-explainer", 1000 steps on
a 2-core CPU) diagnosed 96.9% of 1000 held-out reports when the default was chosen; at 0.5 a
500-step run of the same model reached 86%. At 1.0 readings come one step from every threshold.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

# The labels in rule-priority order, "normal" first.
LABELS = (
    "normal",
    "stall",
    "overload",
    "overheating",
    "bearing_wear",
    "leak",
    "blockage",
    "condensation",
)

CHANNELS = ("temp", "vib", "cur", "pres", "rpm", "hum")
DECIMALS = {"temp": 0, "vib": 1, "cur": 0, "pres": 1, "rpm": 0, "hum": 0}
VALID = {
    "temp": (-40, 150),
    "vib": (0.0, 50.0),
    "cur": (0, 100),
    "pres": (0.0, 20.0),
    "rpm": (0, 6000),
    "hum": (0, 100),
}
FULL_SCALE = {"temp": 999, "vib": 99.9, "cur": 999, "pres": 99.9, "rpm": 9999, "hum": 999}

# Sampling bands in the channel's smallest step (tenths for one-decimal channels):
# name -> (lo at difficulty 0, lo at difficulty 1, hi at difficulty 0, hi at difficulty 1).
BANDS = {
    "temp": {"warm": (48, 40, 82, 89), "cold": (10, 10, 32, 39), "hot": (98, 90, 125, 125)},
    "vib": {"ok": (5, 5, 50, 69), "high": (90, 70, 150, 150)},
    "cur": {"ok": (3, 3, 15, 19), "high": (25, 20, 40, 40)},
    "pres": {"ok": (30, 20, 70, 79), "low": (3, 3, 12, 19), "high": (90, 80, 120, 120)},
    "rpm": {"run": (1000, 300, 3000, 3000), "idle": (0, 0, 100, 299)},
    "hum": {"ok": (20, 20, 75, 84), "high": (92, 85, 99, 99)},
}
# The band each label pins; other channels come from their background mix.
PINNED = {
    "normal": {},
    "stall": {"rpm": "idle", "cur": "high"},
    "overload": {"cur": "high", "rpm": "run"},
    "overheating": {"temp": "hot"},
    "bearing_wear": {"vib": "high"},
    "leak": {"pres": "low"},
    "blockage": {"pres": "high"},
    "condensation": {"hum": "high", "temp": "cold"},
}
# The readings each explanation quotes (a glitch never lands on these).
CAUSES = {label: tuple(PINNED[label]) for label in LABELS}
EXPLAIN = {
    "normal": "all readings are within limits",
    "stall": "rpm {rpm} is below 300 while cur {cur} is 20 or more",
    "overload": "cur {cur} is 20 or more while rpm {rpm} is 300 or more",
    "overheating": "temp {temp} is 90 or more",
    "bearing_wear": "vib {vib} is 7.0 or more",
    "leak": "pres {pres} is below 2.0",
    "blockage": "pres {pres} is 8.0 or more",
    "condensation": "hum {hum} is 85 or more while temp {temp} is below 40",
}
PROMPT_END = "diagnosis:"
DEFAULT_DIFFICULTY = 0.3
DEFAULT_NOISE = 0.05


@dataclass(frozen=True)
class FaultReport:
    """One report. ``readings`` are the displayed values (a glitched channel shows full scale).

    Attributes:
        readings: channel key -> value (int, or float with one decimal), in ``CHANNELS`` order.
        label: the ground-truth diagnosis, one of ``LABELS``.
        prompt: the readings line plus ``"\\ndiagnosis:"``.
        answer: ``" <label>; <explanation>.\\n"``.
        glitch: the channel stuck at full scale, or None.
    """

    readings: dict
    label: str
    prompt: str
    answer: str
    glitch: str | None = None

    @property
    def text(self) -> str:
        """The whole report: prompt + answer (ends in a newline)."""
        return self.prompt + self.answer

    def __hash__(self) -> int:  # readings is a dict, so hash the text it determines
        return hash(self.text)


def _valid(key: str, value) -> bool:
    lo, hi = VALID[key]
    return lo <= value <= hi


def diagnose(readings: dict) -> str:
    """Apply the rule table (module docstring) to readings; a glitched reading compares false.

    Args:
        readings: channel key -> number, all six ``CHANNELS`` present.
    Returns:
        The label, one of ``LABELS``.
    """
    _check_readings(readings)
    return _diagnose(readings)


def _diagnose(readings: dict) -> str:
    # A glitched reading becomes None, and every comparison with None is made false.
    r = {key: value if _valid(key, value) else None for key, value in readings.items()}
    cur_high = r["cur"] is not None and r["cur"] >= 20
    if cur_high and r["rpm"] is not None and r["rpm"] < 300:
        return "stall"
    if cur_high:
        return "overload"
    if r["temp"] is not None and r["temp"] >= 90:
        return "overheating"
    if r["vib"] is not None and r["vib"] >= 7.0:
        return "bearing_wear"
    if r["pres"] is not None and r["pres"] < 2.0:
        return "leak"
    if r["pres"] is not None and r["pres"] >= 8.0:
        return "blockage"
    if r["hum"] is not None and r["hum"] >= 85 and r["temp"] is not None and r["temp"] < 40:
        return "condensation"
    return "normal"


def _check_readings(readings) -> None:
    if not isinstance(readings, dict) or set(readings) != set(CHANNELS):
        raise ValueError(
            f"readings must be a dict with exactly the keys {CHANNELS}, got {readings!r}"
        )
    for key, value in readings.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(f"readings[{key!r}] must be a finite number, got {value!r}")


def _fmt(key: str, value) -> str:
    return f"{value:.1f}" if DECIMALS[key] else str(int(value))


def format_prompt(readings: dict) -> str:
    """The prompt for readings: ``"temp=.. vib=.. cur=.. pres=.. rpm=.. hum=..\\ndiagnosis:"``."""
    _check_readings(readings)
    return _prompt(readings)


def _prompt(readings: dict) -> str:
    line = " ".join(f"{key}={_fmt(key, readings[key])}" for key in CHANNELS)
    return f"{line}\n{PROMPT_END}"


def format_answer(label: str, readings: dict, glitch: str | None = None) -> str:
    """The answer text: a space, the label, ``;``, the explanation quoting readings, ``.\\n``."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    _check_readings(readings)
    return _answer(label, readings, glitch)


def _answer(label: str, readings: dict, glitch: str | None) -> str:
    shown = {key: _fmt(key, value) for key, value in readings.items()}
    sentence = EXPLAIN[label].format(**shown)
    if glitch is not None:
        sentence += f", {glitch} ignored as a sensor glitch"
    return f" {label}; {sentence}.\n"


def report_from_readings(readings: dict) -> FaultReport:
    """Build the report for given readings, labelled by :func:`diagnose`.

    A reading outside its valid range is recorded as the glitch (at most one is allowed).
    """
    _check_readings(readings)
    readings = {key: readings[key] for key in CHANNELS}
    bad = [key for key in CHANNELS if not _valid(key, readings[key])]
    if len(bad) > 1:
        raise ValueError(f"at most one reading may be outside its valid range, got {bad}")
    label = diagnose(readings)
    glitch = bad[0] if bad else None
    return FaultReport(
        readings, label, format_prompt(readings), format_answer(label, readings, glitch), glitch
    )


def _draw(rng: random.Random, key: str, band: str, difficulty: float):
    lo0, lo1, hi0, hi1 = BANDS[key][band]
    lo = int(lo0 + (lo1 - lo0) * difficulty + 0.5)
    hi = int(hi0 + (hi1 - hi0) * difficulty + 0.5)
    units = rng.randint(lo, hi)
    return units / 10 if DECIMALS[key] else units


def _background_band(rng: random.Random, key: str, p: float) -> str:
    names = list(BANDS[key])  # the first band is the usual one
    if rng.random() >= p:
        return names[0]
    return rng.choice(names[1:])


def _stray_probability(difficulty: float) -> float:
    """How often a channel the label does not pin leaves its usual band."""
    return 0.05 + 0.25 * difficulty


def _sample(rng: random.Random, label: str | None, difficulty: float, noise: float) -> FaultReport:
    """One report with the given label (or, for None, whatever label the background gives)."""
    p = _stray_probability(difficulty)
    pinned = PINNED[label] if label is not None else {}
    for _ in range(10_000):
        bands = {key: pinned.get(key) or _background_band(rng, key, p) for key in CHANNELS}
        readings = {key: _draw(rng, key, bands[key], difficulty) for key in CHANNELS}
        if label is None or _diagnose(readings) == label:
            break
    else:  # pragma: no cover - the bands make every label reachable
        raise RuntimeError(f"could not draw a {label!r} report")
    label = _diagnose(readings)
    glitch = None
    if rng.random() < noise:
        glitch = rng.choice([key for key in CHANNELS if key not in CAUSES[label]])
        readings[glitch] = FULL_SCALE[glitch]
        assert _diagnose(readings) == label  # a glitch off the deciding rule cannot change it
    return FaultReport(readings, label, _prompt(readings), _answer(label, readings, glitch), glitch)


def _unit_interval(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def fault_reports(
    n: int,
    *,
    seed: int = 0,
    difficulty: float = DEFAULT_DIFFICULTY,
    noise: float = DEFAULT_NOISE,
    balanced: bool = True,
    repeats: float = 0.0,
) -> list[FaultReport]:
    """Generate ``n`` labelled fault reports, the same ones for the same arguments.

    Args:
        n: how many reports (>= 0).
        seed: seeds the generator.
        difficulty: 0..1, how close readings come to the thresholds (module docstring).
        noise: 0..1, the probability that a report carries one sensor glitch.
        balanced: True gives every label the same count (up to one, when ``n`` is not a
            multiple of ``len(LABELS)``) in shuffled order; False draws every channel from its
            background mix and keeps whatever label the rules give, so classes are uneven.
        repeats: 0..1, the probability that an item is an exact copy of an earlier one (a
            logger that writes a record twice); material for :func:`slmlab.data.dedupe`.
    Returns:
        A list of :class:`FaultReport`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    difficulty = _unit_interval("difficulty", difficulty)
    noise = _unit_interval("noise", noise)
    repeats = _unit_interval("repeats", repeats)
    rng = random.Random(seed)
    if balanced:
        targets = [LABELS[i % len(LABELS)] for i in range(n)]
        rng.shuffle(targets)
    out: list[FaultReport] = []
    for i in range(n):
        if out and rng.random() < repeats:
            out.append(out[rng.randrange(len(out))])
            continue
        out.append(_sample(rng, targets[i] if balanced else None, difficulty, noise))
    return out


_LABEL_AT_START = re.compile(r"\s*([a-z_]+)")


def parse_diagnosis(generated: str) -> str | None:
    """The label at the start of a generated answer, or None if there is no valid label.

    Text up to the last ``diagnosis:`` is skipped, so a whole report works too; then leading
    whitespace, then the first word (lowercase letters and ``_``) must be one of ``LABELS``.

    Args:
        generated: the model's output, with or without the prompt in front.
    Returns:
        The label, or None.
    """
    if not isinstance(generated, str):
        raise ValueError(f"generated must be a str, got {type(generated).__name__}")
    tail = generated.rsplit(PROMPT_END, 1)[-1]
    match = _LABEL_AT_START.match(tail)
    if match and match.group(1) in LABELS:
        return match.group(1)
    return None
