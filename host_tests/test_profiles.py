"""profiles.json: defaults, conversion to integers, and every validation rule.

Each rule gets a bad file and the exact message a person would read.
"""
import copy
import json
import os

import pytest

from pump import limits, profiles
from pump.codes import MODE_EXPRESSION, MODE_MIXED, MODE_NONE, MODE_STIMULATION
from pump.defaults import DEFAULT_PROFILES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shipped():
    with open(os.path.join(ROOT, "profiles.json")) as f:
        return json.load(f)


def errors_of(raw):
    p, errors = profiles.load(raw)
    assert p is None, "expected the file to be refused"
    return errors


def one_error(raw):
    errors = errors_of(raw)
    assert len(errors) == 1, errors
    return errors[0]


@pytest.fixture
def raw():
    return copy.deepcopy(shipped())


# -- the shipped file ------------------------------------------------------------

def test_shipped_file_equals_builtin_defaults():
    assert shipped() == DEFAULT_PROFILES


def test_shipped_defaults_follow_domain_figures():
    p = profiles.defaults()
    stim, expr, mixed = p.modes
    assert p.limit_pa == limits.mmhg_to_pa(250)
    # Expression around 190 mmHg at the middle level, ~60 cycles/min, 70 % suction.
    assert expr.targets_pa[expr.default_level - 1] == limits.mmhg_to_pa(190)
    assert expr.default_level == (expr.levels + 1) // 2
    assert (expr.period_ms, expr.suction_ms) == (1000, 700)
    assert max(expr.targets_pa) <= p.limit_pa - limits.mmhg_to_pa(limits.TRIP_HEADROOM_MMHG)
    # Stimulation faster and gentler.
    assert stim.period_ms == 600 and stim.suction_ms == 300
    assert max(stim.targets_pa) < min(expr.targets_pa)
    assert (mixed.stimulation_cycles, mixed.expression_cycles) == (5, 1)


def test_shipped_programs():
    p = profiles.defaults()
    names = [pr.name for pr in p.programs]
    assert names[:3] == ["standard", "power", "catch_up"]
    std = p.programs[0]
    assert [(s.mode, s.duration_ms) for s in std.steps] == [(MODE_STIMULATION, 120000), (MODE_EXPRESSION, 1680000)]
    assert std.total_ms == 30 * 60000                 # auto-off at 30 min
    power = p.programs[1]
    # 20 on / 10 rest / 10 on / 10 rest / 10 on
    blocks = []
    for s in power.steps:
        pumping = s.mode != MODE_NONE
        if blocks and blocks[-1][0] == pumping:
            blocks[-1][1] += s.duration_ms
        else:
            blocks.append([pumping, s.duration_ms])
    assert blocks == [[True, 20 * 60000], [False, 10 * 60000], [True, 10 * 60000],
                      [False, 10 * 60000], [True, 10 * 60000]]
    catch = p.programs[2]
    assert catch.steps[0].level == 1                 # gentle start
    expr_ms = sum(s.duration_ms for s in catch.steps if s.mode == MODE_EXPRESSION)
    assert 10 * 60000 <= expr_ms <= 15 * 60000


def test_level_table_is_linear_between_min_and_max():
    p = profiles.defaults()
    stim = p.modes[MODE_STIMULATION]
    assert stim.targets_pa[0] == limits.mmhg_to_pa(50)
    assert stim.targets_pa[-1] == limits.mmhg_to_pa(130)
    assert list(stim.targets_pa) == [limits.mmhg_to_pa(50 + 10 * i) for i in range(9)]


def test_everything_is_integer_after_loading():
    p = profiles.defaults()
    for m in p.modes[:2]:
        for v in (m.period_ms, m.suction_ms, m.ramp_ms) + m.targets_pa:
            assert type(v) is int
    for pr in p.programs:
        for s in pr.steps:
            assert type(s.duration_ms) is int
    assert type(p.limit_pa) is int


def test_a_table_of_levels_is_accepted(raw):
    raw["modes"]["stimulation"]["vacuum_mmhg"] = [40, 60, 80.5]
    del raw["modes"]["stimulation"]["levels"]
    raw["modes"]["stimulation"]["default_level"] = 2
    raw["modes"]["mixed"]["default_level"] = 2
    raw["programs"]["catch_up"][1]["level"] = 3
    p, errors = profiles.load(raw)
    assert errors == []
    assert p.modes[MODE_STIMULATION].targets_pa == (5333, 7999, limits.mmhg_to_pa(80.5))
    assert p.modes[MODE_MIXED].levels == 3            # the smaller of the two modes


def test_config_can_lower_the_limit(raw):
    raw["limits"]["max_vacuum_mmhg"] = 200
    raw["modes"]["expression"]["vacuum_mmhg"]["max"] = 185
    p, errors = profiles.load(raw)
    assert errors == []
    assert p.limit_pa == limits.mmhg_to_pa(200)


def test_user_programs_follow_the_required_ones_sorted(raw):
    raw["programs"]["zz_night"] = [{"mode": "expression", "minutes": 5}]
    raw["programs"]["aa_quick"] = [{"mode": "mixed", "minutes": 5}]
    p, errors = profiles.load(raw)
    assert errors == []
    assert [pr.name for pr in p.programs] == ["standard", "power", "catch_up", "aa_quick", "zz_night"]
    assert p.program_index("zz_night") == 4


# -- rules: one bad file each ------------------------------------------------------

def test_hard_limit_on_mode_vacuum(raw):
    raw["modes"]["expression"]["vacuum_mmhg"]["max"] = 400
    assert one_error(raw) == "modes.expression.vacuum_mmhg.max: 400 is above the hard limit 300"


def test_hard_limit_on_global_limit(raw):
    raw["limits"]["max_vacuum_mmhg"] = 301
    assert one_error(raw) == "limits.max_vacuum_mmhg: 301 is above the hard limit 300"


def test_hard_limits_on_session_pause_and_no_vacuum(raw):
    raw["limits"]["max_session_min"] = 120
    raw["limits"]["pause_timeout_min"] = 31
    raw["limits"]["no_vacuum_s"] = 45
    assert errors_of(raw) == [
        "limits.max_session_min: 120 is above the hard limit 90",
        "limits.pause_timeout_min: 31 is above the hard limit 30",
        "limits.no_vacuum_s: 45 is above the hard limit 30",
    ]


def test_level_target_needs_headroom_below_the_profile_limit(raw):
    raw["modes"]["expression"]["vacuum_mmhg"]["max"] = 240
    assert one_error(raw) == ("modes.expression.vacuum_mmhg.max: 240 is above 235 "
                              "(limits.max_vacuum_mmhg 250 less 15 mmHg overshoot headroom)")


def test_lowering_the_limit_below_a_mode_is_reported(raw):
    raw["limits"]["max_vacuum_mmhg"] = 150
    assert errors_of(raw) == [
        "modes.expression.vacuum_mmhg.min: 150 is above 135 (limits.max_vacuum_mmhg 150 less 15 mmHg overshoot headroom)",
        "modes.expression.vacuum_mmhg.max: 230 is above 135 (limits.max_vacuum_mmhg 150 less 15 mmHg overshoot headroom)",
    ]


def test_missing_key(raw):
    del raw["modes"]["expression"]["cycles_per_min"]
    assert one_error(raw) == "modes.expression.cycles_per_min: missing"


def test_missing_top_level_key(raw):
    del raw["limits"]
    assert one_error(raw) == "limits: missing"


def test_unknown_key(raw):
    raw["modes"]["stimulation"]["speed"] = 3
    assert one_error(raw) == "modes.stimulation.speed: unknown key"


def test_unknown_top_level_key_and_mode(raw):
    raw["colour"] = "pink"
    raw["modes"]["turbo"] = {}
    assert errors_of(raw) == ["colour: unknown key", "modes.turbo: unknown key"]


def test_not_a_number(raw):
    raw["modes"]["expression"]["cycles_per_min"] = "fast"
    assert one_error(raw) == 'modes.expression.cycles_per_min: "fast" is not a number'


def test_boolean_is_not_a_number(raw):
    raw["limits"]["no_vacuum_s"] = True
    assert one_error(raw) == "limits.no_vacuum_s: true is not a number"


def test_not_a_whole_number(raw):
    raw["modes"]["expression"]["levels"] = 9.5
    assert one_error(raw) == "modes.expression.levels: 9.5 is not a whole number"


def test_below_minimum(raw):
    raw["modes"]["stimulation"]["cycles_per_min"] = 10
    assert one_error(raw) == "modes.stimulation.cycles_per_min: 10 is below the minimum 15"


def test_above_maximum(raw):
    raw["modes"]["stimulation"]["cycles_per_min"] = 200
    assert one_error(raw) == "modes.stimulation.cycles_per_min: 200 is above the maximum 140"


def test_ratio_range(raw):
    raw["modes"]["expression"]["suction_ratio"] = 0.95
    assert one_error(raw) == "modes.expression.suction_ratio: 0.95 is above the maximum 0.85"


def test_default_level_within_levels(raw):
    raw["modes"]["expression"]["default_level"] = 10
    assert one_error(raw) == "modes.expression.default_level: 10 is above the maximum 9"


def test_target_below_minimum(raw):
    raw["modes"]["stimulation"]["vacuum_mmhg"]["min"] = 5
    assert one_error(raw) == "modes.stimulation.vacuum_mmhg.min: 5 is below the minimum 20"


def test_min_not_below_max(raw):
    raw["modes"]["expression"]["vacuum_mmhg"] = {"min": 200, "max": 180}
    assert one_error(raw) == "modes.expression.vacuum_mmhg.min: 200 is not below max 180"


def test_range_needs_min_and_max(raw):
    raw["modes"]["expression"]["vacuum_mmhg"] = {"min": 150}
    assert one_error(raw) == "modes.expression.vacuum_mmhg.max: missing"


def test_vacuum_of_wrong_type(raw):
    raw["modes"]["expression"]["vacuum_mmhg"] = 190
    assert one_error(raw) == "modes.expression.vacuum_mmhg: 190 is neither a {min, max} object nor a list of levels"


def test_table_must_rise(raw):
    raw["modes"]["stimulation"]["vacuum_mmhg"] = [50, 70, 70, 90]
    del raw["modes"]["stimulation"]["levels"]
    raw["modes"]["stimulation"]["default_level"] = 2
    raw["modes"]["mixed"]["default_level"] = 2
    raw["programs"]["catch_up"][0]["level"] = 1
    assert one_error(raw) == "modes.stimulation.vacuum_mmhg[2]: 70 is not above level 2 (70)"


def test_table_with_levels_key(raw):
    raw["modes"]["stimulation"]["vacuum_mmhg"] = [50, 70, 90, 110, 130]
    raw["modes"]["stimulation"]["default_level"] = 2
    raw["modes"]["mixed"]["default_level"] = 2
    assert one_error(raw) == "modes.stimulation.levels: not allowed with a vacuum_mmhg table (the table sets the levels)"


def test_empty_table(raw):
    raw["modes"]["stimulation"]["vacuum_mmhg"] = []
    del raw["modes"]["stimulation"]["levels"]
    assert errors_of(raw)[0] == "modes.stimulation.vacuum_mmhg: needs 1 to 20 levels, has 0"


def test_release_phase_too_short_to_vent(raw):
    raw["modes"]["stimulation"]["cycles_per_min"] = 130
    raw["modes"]["stimulation"]["suction_ratio"] = 0.75
    assert one_error(raw) == ("modes.stimulation: release phase 115 ms is shorter than 150 ms, too short to vent "
                              "(cycles_per_min 130, suction_ratio 0.75)")


def test_suction_phase_too_short(raw):
    raw["modes"]["stimulation"]["cycles_per_min"] = 130
    raw["modes"]["stimulation"]["suction_ratio"] = 0.25
    assert one_error(raw) == ("modes.stimulation: suction phase 116 ms is shorter than 150 ms "
                              "(cycles_per_min 130, suction_ratio 0.25)")


def test_mixed_mode_rules(raw):
    raw["modes"]["mixed"] = {"stimulation_cycles": 0, "expression_cycles": 1.5, "default_level": 5, "x": 1}
    assert errors_of(raw) == [
        "modes.mixed.x: unknown key",
        "modes.mixed.stimulation_cycles: 0 is below the minimum 1",
        "modes.mixed.expression_cycles: 1.5 is not a whole number",
    ]


def test_program_step_names_unknown_mode(raw):
    raw["programs"]["power"][2] = {"mode": "turbo", "minutes": 5}
    assert one_error(raw) == 'programs.power[2].mode: "turbo" is not a mode (stimulation, expression, mixed)'


def test_program_step_without_mode(raw):
    raw["programs"]["standard"][0] = {"minutes": 2}
    assert one_error(raw) == "programs.standard[0].mode: missing"


def test_program_step_neither_pumping_nor_rest(raw):
    raw["programs"]["standard"][0] = {}
    assert errors_of(raw) == ["programs.standard[0].mode: missing", "programs.standard[0].minutes: missing",
                              'programs.standard[0]: needs either "mode" and "minutes" or "rest"']


def test_program_step_unknown_key(raw):
    raw["programs"]["standard"][1]["volume"] = 3
    assert one_error(raw) == "programs.standard[1].volume: unknown key"


def test_rest_step_with_extra_key(raw):
    raw["programs"]["power"][2] = {"rest": 10, "mode": "expression"}
    assert one_error(raw) == "programs.power[2].mode: unknown key"


def test_step_level_above_mode_levels(raw):
    raw["programs"]["catch_up"][1]["level"] = 12
    assert one_error(raw) == "programs.catch_up[1].level: 12 is above the maximum 9"


def test_step_minutes_not_positive(raw):
    raw["programs"]["standard"][0]["minutes"] = 0
    assert one_error(raw) == "programs.standard[0].minutes: 0 is below the minimum 0.1"


def test_program_only_rests(raw):
    raw["programs"]["catch_up"] = [{"rest": 5}]
    assert one_error(raw) == "programs.catch_up: has only rest steps"


def test_program_empty_and_not_a_list(raw):
    raw["programs"]["catch_up"] = []
    raw["programs"]["power"] = {"steps": []}
    assert errors_of(raw) == ["programs.power: an object is not a list of steps", "programs.catch_up: has no steps"]


def test_program_longer_than_session_limit(raw):
    raw["limits"]["max_session_min"] = 45
    assert one_error(raw) == "programs.power: total 60 min is above limits.max_session_min 45"


def test_required_program_missing(raw):
    del raw["programs"]["catch_up"]
    assert one_error(raw) == "programs.catch_up: missing"


def test_programs_not_an_object(raw):
    raw["programs"] = []
    assert one_error(raw) == "programs: a list is not an object"


def test_version(raw):
    raw["version"] = 2
    assert one_error(raw) == "version: 2 is not supported (this firmware reads version 1)"


def test_top_level_not_an_object():
    assert one_error([1, 2]) == "profiles: a list is not an object"


def test_invalid_json():
    p, errors = profiles.loads('{"version": 1, ')
    assert p is None and len(errors) == 1 and errors[0] == "not valid JSON at line 1 column 16: cut short"


def test_all_errors_are_reported_at_once(raw):
    raw["limits"]["max_vacuum_mmhg"] = 400
    raw["modes"]["stimulation"]["suction_ratio"] = "half"
    del raw["modes"]["expression"]["levels"]
    raw["programs"]["power"][0]["mode"] = "nope"
    errors = errors_of(raw)
    assert errors == [
        "limits.max_vacuum_mmhg: 400 is above the hard limit 300",
        'modes.stimulation.suction_ratio: "half" is not a number',
        "modes.expression.levels: missing",
        'programs.power[0].mode: "nope" is not a mode (stimulation, expression, mixed)',
    ]


# -- what the board does with a bad file ------------------------------------------

def test_invalid_file_leaves_defaults_in_force(raw):
    raw["modes"]["expression"]["vacuum_mmhg"]["max"] = 400
    p, errors = profiles.load_or_defaults(json.dumps(raw))
    assert errors == ["modes.expression.vacuum_mmhg.max: 400 is above the hard limit 300"]
    assert p.modes[MODE_EXPRESSION].targets_pa == profiles.defaults().modes[MODE_EXPRESSION].targets_pa


def test_missing_file_uses_defaults_without_error():
    p, errors = profiles.load_or_defaults(None)
    assert errors == [] and p.limit_pa == limits.mmhg_to_pa(250)


def test_valid_file_is_used(raw):
    raw["modes"]["expression"]["cycles_per_min"] = 50
    p, errors = profiles.load_or_defaults(json.dumps(raw))
    assert errors == [] and p.modes[MODE_EXPRESSION].period_ms == 1200


def test_mmhg_conversion():
    assert limits.mmhg_to_pa(250) == 33331
    assert limits.mmhg_to_pa(300) == limits.HARD_MAX_VACUUM_PA == 39997
    assert limits.mmhg_to_pa(-10) == -1333
    assert limits.pa_to_mmhg_x10(33331) == 2500
    assert limits.pa_to_mmhg_x10(-1333) == -100


# -- schedule (optional) ---------------------------------------------------------------------

def test_schedule_every_and_times_are_accepted(raw):
    raw["schedule"] = {"every_min": 180, "grace_min": 45}
    p, errors = profiles.load(raw)
    assert errors == [] and p.schedule.every_s == 10800 and p.schedule.grace_s == 2700
    raw["schedule"] = {"times": ["21:00", "06:00"], "grace_min": 30}
    p, errors = profiles.load(raw)
    assert errors == [] and p.schedule.times_s == (21600, 75600)
    del raw["schedule"]
    assert profiles.load(raw)[0].schedule is None


@pytest.mark.parametrize("schedule,message", [
    ({"every_min": 30, "grace_min": 45}, "schedule.every_min: 30 is below the minimum 60"),
    ({"every_min": 180, "grace_min": 500}, "schedule.grace_min: 500 is above the maximum 180"),
    ({"every_min": 180}, "schedule.grace_min: missing"),
    ({"every_min": 180, "times": ["06:00"], "grace_min": 45}, 'schedule: needs either "every_min" or "times", '
     "has every_min and times"),
    ({"grace_min": 45}, 'schedule: needs either "every_min" or "times", has neither'),
    ({"times": ["6:00"], "grace_min": 45}, 'schedule.times[0]: "6:00" is not a time of day ("HH:MM", 00:00-23:59)'),
    ({"times": ["06:00", "06:00"], "grace_min": 45}, 'schedule.times[1]: "06:00" appears twice'),
    ({"times": [], "grace_min": 45}, "schedule.times: needs a list of 1 to 12 times of day"),
    ({"every_min": 180, "grace_min": 45, "remind": True}, "schedule.remind: unknown key"),
    ("every 3 h", 'schedule: "every 3 h" is not an object'),
])
def test_schedule_rules(raw, schedule, message):
    raw["schedule"] = schedule
    assert one_error(raw) == message


# -- issue 11: file-level messages ----------------------------------------------------------

def test_file_level_messages():
    text = open(os.path.join(ROOT, "profiles.json"), "rb").read()
    assert profiles.loads(b"") == (None, ["empty"])
    assert profiles.loads(b" \n") == (None, ["empty"])
    p, errors = profiles.loads(b"\xef\xbb\xbf" + text)          # saved by Windows Notepad: taken
    assert errors == [] and p is not None
    assert profiles.loads(text + b"\x00")[1] == [                # taken by no VM (it was on the board)
        "not valid JSON at line %d column 1: byte 0 after the value"
        % (text.count(b"\n") + 1)]
    assert profiles.loads(b"\x9a\xff")[1] == ["not UTF-8 text"]
    assert profiles.loads(b"[" * 1000 + b"]" * 1000)[1] == ["not valid JSON at line 1 column 17: nested more than 16 deep"]


def test_an_empty_or_odd_key_has_a_path():
    raw = json.load(open(os.path.join(ROOT, "profiles.json")))
    raw[""] = 1
    assert one_error(raw) == '[""]: unknown key'
    del raw[""]
    raw["programs"]["my prog\n"] = "x"
    assert one_error(raw) == 'programs["my prog\\u000a"]: "x" is not a list of steps'


def test_times_take_ascii_digits_only():
    raw = json.load(open(os.path.join(ROOT, "profiles.json")))
    raw["schedule"] = {"times": ["\u0660\u0666:\u0660\u0660"], "grace_min": 45}
    assert one_error(raw) == 'schedule.times[0]: "\u0660\u0666:\u0660\u0660" is not a time of day ("HH:MM", 00:00-23:59)'
