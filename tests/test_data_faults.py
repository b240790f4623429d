"""Fault reports: the rule table re-implemented independently, format, knobs, bad input."""

from collections import Counter

import pytest

from slmlab.data import (
    CHANNELS,
    LABELS,
    FaultReport,
    diagnose,
    fault_reports,
    format_answer,
    format_prompt,
    parse_diagnosis,
    report_from_readings,
)

# ---------------------------------------------------------------- the rule table, restated here
# Written from the documented table, not from the code: a glitch is a reading outside its valid
# range, and any condition on a glitched reading is false.
VALID = {
    "temp": (-40, 150),
    "vib": (0, 50),
    "cur": (0, 100),
    "pres": (0, 20),
    "rpm": (0, 6000),
    "hum": (0, 100),
}
RULES = [  # (label, channels the rule reads, condition), first match wins
    ("stall", ("rpm", "cur"), lambda r: r["rpm"] < 300 and r["cur"] >= 20),
    ("overload", ("cur",), lambda r: r["cur"] >= 20),
    ("overheating", ("temp",), lambda r: r["temp"] >= 90),
    ("bearing_wear", ("vib",), lambda r: r["vib"] >= 7),
    ("leak", ("pres",), lambda r: r["pres"] < 2),
    ("blockage", ("pres",), lambda r: r["pres"] >= 8),
    ("condensation", ("hum", "temp"), lambda r: r["hum"] >= 85 and r["temp"] < 40),
]


def reference_label(readings):
    glitched = {k for k, v in readings.items() if not VALID[k][0] <= v <= VALID[k][1]}
    for label, reads, condition in RULES:
        if not glitched & set(reads) and condition(readings):
            return label
    return "normal"


def parse_prompt(prompt):
    line, end = prompt.split("\n")
    assert end == "diagnosis:"
    pairs = [item.split("=") for item in line.split(" ")]
    assert [k for k, _ in pairs] == ["temp", "vib", "cur", "pres", "rpm", "hum"]
    return {k: float(v) for k, v in pairs}


ALL = [
    r
    for seed, difficulty, noise, balanced in [
        (0, 0.5, 0.05, True),
        (1, 0.0, 0.0, True),
        (2, 1.0, 0.5, True),
        (3, 0.5, 0.2, False),
        (4, 1.0, 1.0, False),
    ]
    for r in fault_reports(800, seed=seed, difficulty=difficulty, noise=noise, balanced=balanced)
]


def test_labels_are_normal_plus_at_least_six_faults():
    assert LABELS[0] == "normal" and len(set(LABELS)) == len(LABELS) >= 7
    assert CHANNELS == ("temp", "vib", "cur", "pres", "rpm", "hum")


def test_every_label_follows_the_rule_table_on_the_displayed_text():
    for r in ALL:
        shown = parse_prompt(r.prompt)
        assert shown == pytest.approx(r.readings)
        assert reference_label(shown) == r.label, r.text
        assert diagnose(r.readings) == r.label


def test_glitches_sit_off_the_deciding_rule_so_the_clean_label_is_the_same():
    glitched = [r for r in ALL if r.glitch is not None]
    assert len(glitched) > 100
    full_scale = {"temp": 999, "vib": 99.9, "cur": 999, "pres": 99.9, "rpm": 9999, "hum": 999}
    for r in glitched:
        assert r.readings[r.glitch] == full_scale[r.glitch]
        assert f", {r.glitch} ignored as a sensor glitch." in r.answer
        reads = dict((label, reads) for label, reads, _ in RULES).get(r.label, ())
        assert r.glitch not in reads
        # any in-range value for the glitched channel keeps the label: it never mattered
        lo, hi = VALID[r.glitch]
        for value in (lo, (lo + hi) / 2, hi):
            assert reference_label({**r.readings, r.glitch: value}) in (r.label, *_above(r.label))


def _above(label):
    """Labels of higher priority than ``label`` (a clean value may trigger one of them)."""
    order = [name for name, _, _ in RULES] + ["normal"]
    return order[: order.index(label)]


def test_report_format_is_compact_ascii_and_split_at_the_label():
    for r in ALL:
        assert r.text == r.prompt + r.answer and r.text.endswith("\n") and r.text.isascii()
        assert r.prompt.endswith("\ndiagnosis:") and len(r.prompt) <= 100 and len(r.text) <= 200
        assert r.answer.startswith(f" {r.label}; ") and r.answer.count("\n") == 1
        assert r.text.count("\n") == 2


def test_explanations_quote_the_offending_readings():
    quoted = {
        "stall": ("rpm", "cur"),
        "overload": ("cur", "rpm"),
        "overheating": ("temp",),
        "bearing_wear": ("vib",),
        "leak": ("pres",),
        "blockage": ("pres",),
        "condensation": ("hum", "temp"),
        "normal": (),
    }
    for r in ALL:
        shown = dict(item.split("=") for item in r.prompt.split("\n")[0].split(" "))
        for key in quoted[r.label]:
            assert f"{key} {shown[key]} " in r.answer, r.text


def test_hand_checked_boundaries_and_priorities():
    base = dict(temp=60, vib=3.0, cur=10, pres=5.0, rpm=1500, hum=50)
    cases = [
        ({}, "normal"),
        ({"temp": 90}, "overheating"),
        ({"temp": 89}, "normal"),
        ({"vib": 7.0}, "bearing_wear"),
        ({"vib": 6.9}, "normal"),
        ({"cur": 20}, "overload"),
        ({"cur": 19}, "normal"),
        ({"cur": 20, "rpm": 299}, "stall"),
        ({"cur": 20, "rpm": 300}, "overload"),
        ({"rpm": 0}, "normal"),  # an idle machine drawing little current is fine
        ({"pres": 1.9}, "leak"),
        ({"pres": 2.0}, "normal"),
        ({"pres": 8.0}, "blockage"),
        ({"pres": 7.9}, "normal"),
        ({"hum": 85, "temp": 39}, "condensation"),
        ({"hum": 85, "temp": 40}, "normal"),
        ({"hum": 84, "temp": 20}, "normal"),
        ({"cur": 30, "rpm": 50, "temp": 120}, "stall"),
        ({"cur": 30, "temp": 120}, "overload"),
        ({"temp": 95, "vib": 9.0, "pres": 0.5}, "overheating"),
        ({"vib": 9.0, "pres": 9.0}, "bearing_wear"),
        ({"pres": 0.5, "hum": 95, "temp": 20}, "leak"),
        ({"temp": 999}, "normal"),
        ({"pres": 99.9}, "normal"),
        ({"cur": 999, "rpm": 10}, "normal"),
        ({"cur": 25, "rpm": 9999}, "overload"),
        ({"hum": 999, "temp": 20}, "normal"),
    ]
    for change, label in cases:
        readings = {**base, **change}
        assert diagnose(readings) == label == reference_label(readings), change
        report = report_from_readings(readings)
        assert report.label == label and report.prompt == format_prompt(readings)


def test_report_from_readings_matches_the_generator():
    for r in ALL[:300]:
        assert report_from_readings(r.readings) == r


def test_balanced_gives_equal_counts_and_unbalanced_does_not():
    counts = Counter(r.label for r in fault_reports(83, seed=5))
    assert set(counts) == set(LABELS) and set(counts.values()) <= {10, 11}
    assert sum(counts.values()) == 83
    natural = Counter(r.label for r in fault_reports(2000, seed=5, balanced=False))
    assert natural.most_common(1)[0][0] == "normal"
    assert max(natural.values()) > 3 * min(natural.values())


def test_difficulty_moves_readings_towards_the_thresholds():
    thresholds = {
        "temp": (40, 90),
        "vib": (7,),
        "cur": (20,),
        "pres": (2, 8),
        "rpm": (300,),
        "hum": (85,),
    }

    def closest(reports):
        return {
            k: min(abs(r.readings[k] - t) for r in reports if r.glitch != k for t in thresholds[k])
            for k in CHANNELS
        }

    easy = closest(fault_reports(2000, seed=7, difficulty=0.0, noise=0.0))
    hard = closest(fault_reports(2000, seed=7, difficulty=1.0, noise=0.0))
    assert easy["temp"] >= 7 and easy["cur"] >= 4 and easy["vib"] >= 1.9 and easy["rpm"] >= 199
    assert easy["hum"] >= 7 and easy["pres"] >= 0.7
    # at difficulty 1 some reading sits at (or a step from) a threshold; rpm's idle band is
    # 300 values wide, so among ~300 idle draws the nearest lands within a few rpm
    step = {"vib": 0.1, "pres": 0.1, "rpm": 5}
    for k in CHANNELS:
        assert hard[k] <= step.get(k, 1), k


def test_noise_is_the_glitch_probability():
    for noise in (0.0, 0.3, 1.0):
        reports = fault_reports(1000, seed=8, noise=noise)
        rate = sum(r.glitch is not None for r in reports) / len(reports)
        assert abs(rate - noise) < 0.05, (noise, rate)  # binomial sd <= 0.016


def test_repeats_make_exact_copies_of_earlier_reports():
    assert len({r.text for r in fault_reports(2000, seed=9)}) == 2000
    reports = fault_reports(2000, seed=9, repeats=0.25)
    copies = len(reports) - len({r.text for r in reports})
    assert 400 < copies < 600


def test_same_seed_same_reports_other_seed_other_reports():
    assert fault_reports(50, seed=3) == fault_reports(50, seed=3)
    assert fault_reports(50, seed=3) != fault_reports(50, seed=4)
    assert fault_reports(0) == []
    r = fault_reports(1)[0]
    assert isinstance(r, FaultReport) and hash(r) == hash(r.text)
    with pytest.raises(AttributeError):
        r.label = "normal"


def test_parse_diagnosis():
    r = report_from_readings(dict(temp=95, vib=3.0, cur=10, pres=5.0, rpm=1500, hum=50))
    assert parse_diagnosis(r.answer) == "overheating"
    assert parse_diagnosis(r.text) == "overheating"
    assert parse_diagnosis(" leak") == "leak"
    assert parse_diagnosis("bearing_wear; vib") == "bearing_wear"
    assert parse_diagnosis("\n normal.") == "normal"
    for bad in ("", " ", " overheat", " overheatingx;", " Normal;", "; leak", " 42"):
        assert parse_diagnosis(bad) is None, bad
    with pytest.raises(ValueError, match="generated must be a str"):
        parse_diagnosis(None)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=-1), "n must be a non-negative int"),
        (dict(n=2.0), "n must be a non-negative int"),
        (dict(n=True), "n must be a non-negative int"),
        (dict(n=5, seed="a"), "seed must be an int"),
        (dict(n=5, difficulty=1.5), "difficulty must be a number between 0 and 1"),
        (dict(n=5, noise=-0.1), "noise must be a number between 0 and 1"),
        (dict(n=5, repeats="x"), "repeats must be a number between 0 and 1"),
    ],
)
def test_fault_reports_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fault_reports(**kwargs)


def test_readings_functions_reject_bad_input():
    good = dict(temp=60, vib=3.0, cur=10, pres=5.0, rpm=1500, hum=50)
    for bad in ({**good, "extra": 1}, {k: v for k, v in good.items() if k != "hum"}, [1, 2]):
        with pytest.raises(ValueError, match="readings must be a dict with exactly the keys"):
            diagnose(bad)
    for value in ("60", None, True, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"readings\['temp'\] must be a finite number"):
            format_prompt({**good, "temp": value})
    with pytest.raises(ValueError, match="label must be one of"):
        format_answer("broken", good)
    with pytest.raises(ValueError, match="at most one reading may be outside"):
        report_from_readings({**good, "temp": 999, "hum": 999})
