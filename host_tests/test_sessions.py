"""The host's session history (tools/sessions) against the contract in
docs/session-log.md: import (CRC, torn lines, versions, idempotence), add,
report (self-contained HTML + PNG + terminal summary) and plan (the
recovery rules, each named). Log lines are written by a helper here that
follows the contract, not by the firmware's writer."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import zlib
from datetime import datetime, timedelta


from tools.sessions import logfile, plan
from tools.sessions.__main__ import main
from tools.sessions.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sessions")
BOARD = "e6614104032f5a2a"
T0 = datetime(2024, 5, 1, 6, 0)
EVERY3 = plan.Schedule(every_min=180, grace_min=45, origin="test")


# -- writing logs as the contract says -----------------------------------------------

def line(record, ensure_ascii=True):
    """JSON text, a tab, CRC-32 of its UTF-8 bytes as 8 lowercase hex, newline."""
    text = json.dumps(record, ensure_ascii=ensure_ascii).encode("utf-8")
    return text + b"\t" + ("%08x" % (zlib.crc32(text) & 0xFFFFFFFF)).encode("ascii") + b"\n"


def rec(seq, start, program="standard", duration_s=1800, board=BOARD, boot=1, uptime_s=None, faults=(),
        end=None, schedule="due", **over):
    r = {"v": 1, "board": board, "board_name": "pico", "seq": seq, "boot": boot,
         "start": start.strftime("%Y-%m-%dT%H:%M:%S") if start else None,
         "uptime_s": 600 + 20000 * seq if uptime_s is None else uptime_s,
         "duration_s": duration_s, "duration_at_least": False, "program": program,
         "mode_s": {"stimulation": 120, "expression": duration_s - 120, "mixed": 0, "rest": 0, "paused": 0},
         "levels": {"stimulation": [5], "expression": [4, 5], "mixed": []},
         "peak_mmhg": {"stimulation": 112.5, "expression": 191}, "faults": list(faults),
         "end": end or ("fault" if faults else "stop"), "schedule": schedule}
    r.update(over)
    return r


def write(path, records, tail=b""):
    with open(path, "wb") as f:
        f.write(b"".join(line(r) for r in records) + tail)
    return str(path)


def every3(first, last, skip=(), program=None, start_seq=1):
    """Records every 3 h from `first` to `last` (datetimes), leaving out the
    start times in `skip`; program: {datetime: name}."""
    out, t, seq = [], first, start_seq
    while t <= last:
        if t not in skip:
            out.append(rec(seq, t, program=(program or {}).get(t, "standard"),
                           duration_s=3600 if (program or {}).get(t) == "power" else 1800))
            seq += 1
        t += timedelta(hours=3)
    return out


def history(tmp_path, records, day_volumes=None, extra=()):
    """The sessions of a database holding `records`; day_volumes {date: mL}
    spread evenly over that day's sessions."""
    st = Store(str(tmp_path / "h.db"))
    recs, probs = logfile.parse_bytes(b"".join(line(r) for r in records))
    assert not probs
    st.import_records(recs)
    if day_volumes:
        by_day = {}
        for r in records:
            if r["start"]:
                by_day.setdefault(r["start"][:10], []).append(r["seq"])
        for d, total in day_volumes.items():
            seqs = by_day[d.isoformat()]
            for s in seqs:
                st.set_entry(BOARD, s, total / len(seqs), set_volume=True)
    for start, kw in extra:
        st.add_manual(start, **kw)
    out = st.sessions()
    st.close()
    return out


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- the log format -------------------------------------------------------------------

def test_helper_lines_follow_the_contract_and_parse():
    data = line(rec(1, T0)) + line(rec(2, None, board_name="pico ü"), ensure_ascii=False)
    first = data.split(b"\n")[0]
    assert re.fullmatch(rb'\{"v": 1, .*\}\t[0-9a-f]{8}', first)
    records, problems = logfile.parse_bytes(data)
    assert problems == []
    assert [r.data["seq"] for r in records] == [1, 2]
    assert records[1].data["board_name"] == "pico ü" and records[1].data["start"] is None
    # the module's own encoder writes the same bytes
    assert logfile.encode(rec(1, T0)) == line(rec(1, T0))


def test_fixture_log_imports(tmp_path, capsys):
    path = os.path.join(DATA, "sessions.log")
    code, out, err = run(capsys, "--db", tmp_path / "s.db", "import", path)
    assert "4 new, 0 already known, 2 lines skipped" in out
    assert "sessions.log:3: torn line: bad CRC" in err
    assert "sessions.log:6: torn line: no newline at the end" in err
    assert code == 1


# -- import ---------------------------------------------------------------------------

def test_import_is_idempotent_and_order_free(tmp_path, capsys):
    old = write(tmp_path / "sessions.1.log", every3(T0, T0 + timedelta(hours=6)))
    new = write(tmp_path / "sessions.log", every3(T0 + timedelta(hours=9), T0 + timedelta(hours=15), start_seq=4))
    db = tmp_path / "s.db"
    code, out, err = run(capsys, "--db", db, "import", new, old)
    assert (code, out.strip(), err) == (0, "6 new, 0 already known", "")
    code, out, err = run(capsys, "import", "--db", db, old, new)       # --db after the command works too
    assert (code, out.strip()) == (0, "0 new, 6 already known")
    with sqlite3.connect(str(db)) as c:
        assert c.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM sessions").fetchone() == (6, 6)
        raw = c.execute("SELECT record, crc FROM sessions WHERE seq = 1").fetchone()
    assert line(json.loads(raw[0])).decode() == raw[0] + "\t" + raw[1] + "\n"


def test_record_seen_again_with_other_content_is_reported_not_overwritten(tmp_path, capsys):
    db = tmp_path / "s.db"
    run(capsys, "--db", db, "import", write(tmp_path / "a.log", [rec(1, T0), rec(2, T0 + timedelta(hours=3))]))
    changed = write(tmp_path / "b.log", [rec(1, T0, duration_s=999), rec(2, T0 + timedelta(hours=3))])
    code, out, err = run(capsys, "--db", db, "import", changed)
    assert code == 1
    assert "0 new, 1 already known, 1 conflicting" in out
    assert "b.log:1: board %s session 1 was imported before with different content (duration_s, mode_s)" % BOARD \
        in err
    with sqlite3.connect(str(db)) as c:
        assert c.execute("SELECT duration_s FROM sessions WHERE seq = 1").fetchone() == (1800,)
        assert c.execute("SELECT COUNT(*) FROM conflicts").fetchone() == (1,)


def test_truncated_at_every_byte_offset(tmp_path):
    records = [rec(1, T0), rec(2, None, board_name="pïco"), rec(3, T0 + timedelta(hours=6))]
    lines = [line(r, ensure_ascii=False) for r in records]
    data = b"".join(lines)
    ends = [sum(len(x) for x in lines[:i + 1]) for i in range(len(lines))]
    for cut in range(len(data) + 1):
        got, problems = logfile.parse_bytes(data[:cut], "sessions.log")
        whole = sum(1 for e in ends if e <= cut)
        assert [r.data["seq"] for r in got] == list(range(1, whole + 1)), cut
        if cut in ends or cut == 0:
            assert problems == [], cut
        else:
            assert len(problems) == 1, cut
            assert str(problems[0]).startswith("sessions.log:%d: torn line: no newline at the end" % (whole + 1))
        st = Store(":memory:")
        res = st.import_records(got)
        assert len(res.new) == whole and st.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == whole
        st.close()


def test_bad_crc_in_the_middle_skips_only_that_line(tmp_path, capsys):
    lines = [line(rec(i, T0 + timedelta(hours=3 * i))) for i in range(1, 5)]
    lines[1] = lines[1].replace(b'"duration_s": 1800', b'"duration_s": 1900')
    path = tmp_path / "sessions.log"
    path.write_bytes(b"".join(lines))
    code, out, err = run(capsys, "--db", tmp_path / "s.db", "import", path)
    assert code == 1
    assert "3 new, 0 already known, 1 line skipped" in out
    assert re.search(r"sessions\.log:2: torn line: bad CRC \(the line says [0-9a-f]{8}, its JSON gives [0-9a-f]{8}\)",
                     err)
    assert err.count("sessions.log:") == 1
    with sqlite3.connect(str(tmp_path / "s.db")) as c:
        assert [r[0] for r in c.execute("SELECT seq FROM sessions ORDER BY seq")] == [1, 3, 4]


def test_garbage_lines_are_reported_and_the_rest_imported(tmp_path, capsys):
    good = [rec(i, T0 + timedelta(hours=3 * i)) for i in range(1, 4)]
    no_json = b"{not json"
    missing = rec(9, T0)
    del missing["boot"], missing["faults"]
    wrong = dict(rec(10, T0), seq="ten")
    crc_line = lambda b: b + b"\t" + ("%08x" % (zlib.crc32(b) & 0xFFFFFFFF)).encode() + b"\n"
    data = (line(good[0]) + b"hello world\n" + b"\n" + b"\x00\xff\xfe garbage\t12345678\n" + line(good[1]) +
            crc_line(no_json) + line(missing) + crc_line(b"[1, 2]") + line(good[2]) + line(wrong) +
            b'{"v": 1}\tABCDEF12\n')
    path = tmp_path / "sessions.log"
    path.write_bytes(data)
    code, out, err = run(capsys, "--db", tmp_path / "s.db", "import", path)
    assert code == 1
    assert "3 new, 0 already known, 8 lines skipped" in out
    expect = {2: "no tab and CRC", 3: "empty line", 4: "bad CRC", 6: "not JSON", 7: "missing fields: boot, faults",
              8: "not a record: the JSON is not an object", 10: "field seq: expected an integer from 1 to 2147483647, got \"ten\"",
              11: "the CRC field is not 8 lowercase hex digits"}
    for n, why in expect.items():
        assert re.search(r"sessions\.log:%d: .*%s" % (n, re.escape(why)), err), (n, err)


def test_unknown_version_is_refused_naming_it(tmp_path, capsys):
    records = [rec(i, T0 + timedelta(hours=3 * i)) for i in range(1, 9)]
    records[6] = dict(records[6], v=2, extra_field=[1])
    path = write(tmp_path / "sessions.log", records)
    code, out, err = run(capsys, "--db", tmp_path / "s.db", "import", path)
    assert code == 1
    assert err.strip() == "%s:7: record version 2 is not supported (this tool reads 1)" % path
    assert "7 new, 0 already known, 1 line skipped" in out


def test_missing_file_is_unusable_input_but_the_others_import(tmp_path, capsys):
    good = write(tmp_path / "sessions.log", [rec(1, T0)])
    code, out, err = run(capsys, "--db", tmp_path / "s.db", "import", tmp_path / "sessions.1.log", good)
    assert code == 2
    assert "sessions.1.log: no such file" in err
    assert "1 new, 0 already known" in out


def test_record_appended_after_a_torn_write_is_kept(tmp_path):
    a, b = line(rec(1, T0)), line(rec(2, T0 + timedelta(hours=3)))
    data = a[:70] + b + line(rec(3, T0 + timedelta(hours=6)))
    got, problems = logfile.parse_bytes(data)
    assert [r.data["seq"] for r in got] == [2, 3]
    assert len(problems) == 1 and "first 70 bytes are a record cut short" in str(problems[0])


def test_session_in_progress_is_not_imported(tmp_path):
    cur = rec(5, T0)
    cur["end"] = None
    got, problems = logfile.parse_bytes(line(rec(4, T0 - timedelta(hours=3))) + line(cur), "session.cur")
    assert [r.data["seq"] for r in got] == [4]
    assert problems[0].kind == logfile.IN_PROGRESS and "session.cur:2: session 5 still in progress" in str(
        problems[0])


def test_import_from_the_repo_root_as_make_logs_calls_it(tmp_path):
    path = write(tmp_path / "sessions.log", [rec(1, T0), rec(2, T0 + timedelta(hours=3))])
    rel = os.path.relpath(path, ROOT)
    proc = subprocess.run([sys.executable, "-m", "tools.sessions", "--db", str(tmp_path / "s.db"), "import", rel],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2 new, 0 already known"


# -- add and report -----------------------------------------------------------------

def test_add_volume_note_and_manual_session_appear_in_the_report(tmp_path, capsys):
    db = tmp_path / "s.db"
    records = every3(T0, T0 + timedelta(days=2), skip={T0 + timedelta(hours=30)},
                     program={T0 + timedelta(hours=6): "power", T0 + timedelta(hours=9): "night $low$"})
    records.append(rec(len(records) + 1, None, boot=2, uptime_s=100))       # no clock, no neighbour: unknown
    run(capsys, "--db", db, "import", write(tmp_path / "sessions.log", records))
    assert run(capsys, "--db", db, "add", 3, "--volume-ml", 120)[0] == 0
    code, out, _ = run(capsys, "--db", db, "add", 3, "--volume-ml", 130, "--note", "left side <sore> & tired")
    assert code == 0 and "volume 130 mL (was 120 mL)" in out
    assert run(capsys, "--db", db, "add", 4, "--note", "note alone")[0] == 0
    code, out, _ = run(capsys, "--db", db, "add", "--start", "2024-05-02T13:00", "--volume-ml", 60,
                       "--duration-min", 15, "--note", "hand pump at work")
    assert code == 0 and "added manual #1" in out
    assert run(capsys, "--db", db, "add", 3, "--volume-ml", 2500)[0] == 2
    assert run(capsys, "--db", db, "add", 3)[0] == 2

    out_dir = tmp_path / "rep"
    code, out, err = run(capsys, "--db", db, "report", "--out", out_dir, "--now", "2024-05-03T07:00",
                         "--days", 7)
    assert code == 0, err
    assert "sessions/day" in out and "1 missed" in out
    assert "time unknown: 1 session" in out
    page = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "left side &lt;sore&gt; &amp; tired" in page and "note alone" in page
    assert "130 mL" in page and "hand pump at work" in page and "manual #1 (manual)" in page
    assert "<h2>Time unknown</h2>" in page
    assert '<tr class="power"><td>2024-05-01</td>' in page and "night $low$" in page
    # self-contained: no external URL, every image inline
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"https?:|//|url\(|<script|<link|href=", text)
    imgs = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(imgs) == 4 and all(src.startswith("data:image/png;base64,") for src in imgs)
    for name in ("sessions_per_day", "intervals", "durations", "volume"):
        assert (out_dir / (name + ".png")).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_add_needs_board_when_several(tmp_path, capsys):
    db = tmp_path / "s.db"
    run(capsys, "--db", db, "import", write(tmp_path / "a.log", [rec(1, T0), rec(1, T0, board="aa11bb22cc33dd44")]))
    code, _, err = run(capsys, "--db", db, "add", 1, "--volume-ml", 50)
    assert code == 2 and "several boards" in err
    assert run(capsys, "--db", db, "add", 1, "--board", "aa11", "--volume-ml", 50)[0] == 0
    code, out, _ = run(capsys, "--db", db, "add", 7, "--board", BOARD, "--volume-ml", 40)
    assert code == 0 and "not in the history yet" in out


# -- plan ----------------------------------------------------------------------------------

def suggestion(p, rule):
    found = [s for s in p.suggestions if s.rule == rule]
    assert found, p.text()
    return found[0]


def test_plan_single_miss_today(tmp_path):
    day3 = T0 + timedelta(days=2)
    records = every3(T0, day3, skip={day3 - timedelta(hours=3)})        # 03:00 on day 3 missed
    p = plan.make_plan(history(tmp_path, records), EVERY3, day3 + timedelta(minutes=40))
    assert p.rules() == [2]
    s = suggestion(p, 2)
    assert "extra session later today" in s.action
    assert "1 session missed today" in s.reason and "due at 2024-05-03 03:00" in s.reason
    assert "Rule 2 (extra-session)" in p.text()


def test_plan_due_now_and_overdue(tmp_path):
    records = every3(T0, T0 + timedelta(days=1))
    last = T0 + timedelta(days=1)
    sessions = history(tmp_path, records)
    p = plan.make_plan(sessions, EVERY3, last + timedelta(hours=3, minutes=20))
    assert p.rules() == [1] and p.state == "due"
    assert "due now" in p.suggestions[0].action and "catch_up" not in p.suggestions[0].action
    p = plan.make_plan(sessions, EVERY3, last + timedelta(hours=4, minutes=30))
    assert p.rules() == [1, 2] and p.state == "overdue"
    s = suggestion(p, 1)
    assert "catch_up" in s.action and "start gently" in s.action
    assert "1 h 30 min late, more than the 45 min grace" in s.reason
    assert "Rule 1 (pump-now)" in p.text()


def test_plan_two_misses_within_24h_suggest_power_pumping(tmp_path):
    day3 = T0 + timedelta(days=2)
    records = every3(T0, day3 + timedelta(hours=6), skip={day3 - timedelta(hours=12), day3})
    p = plan.make_plan(history(tmp_path, records), EVERY3, day3 + timedelta(hours=7))
    assert p.rules() == [3]
    s = suggestion(p, 3)
    assert "Power pump once a day for the next 2-3 days" in s.action
    assert "stand in for the extra session (rule 2)" in s.action
    assert s.reason.startswith("2 sessions missed in the last 24 h")
    assert "Rule 3 (power-pumping)" in p.text()


def test_plan_three_days_of_falling_volume_suggest_power_pumping(tmp_path):
    last = T0 + timedelta(days=5)
    records = every3(T0, last)
    vols = {(T0 + timedelta(days=k)).date(): v for k, v in enumerate([700, 720, 690, 660, 640])}
    p = plan.make_plan(history(tmp_path, records, vols), EVERY3, last + timedelta(hours=1))
    assert p.rules() == [3]
    s = suggestion(p, 3)
    assert "fell 3 days in a row" in s.reason and "05-05 640 mL" in s.reason
    # four decreases
    vols[T0.date()] = 730
    vols[(T0 + timedelta(days=1)).date()] = 710
    p = plan.make_plan(history(_fresh(tmp_path, "b"), records, vols), EVERY3, last + timedelta(hours=1))
    assert p.rules() == [3] and "fell 4 days" in suggestion(p, 3).reason
    vols[(T0 + timedelta(days=2)).date()] = 740
    p = plan.make_plan(history(_fresh(tmp_path, "c"), records, vols), EVERY3, last + timedelta(hours=1))
    assert p.rules() == [5]


def _fresh(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    return d


def test_plan_perfect_week_is_on_track_with_the_next_due_time(tmp_path):
    last = T0 + timedelta(days=7)
    p = plan.make_plan(history(tmp_path, every3(T0, last)), EVERY3, last + timedelta(hours=1))
    assert p.rules() == [5]
    s = suggestion(p, 5)
    assert s.action.startswith("On track") and "next session is due at 2024-05-08 09:00" in s.action
    assert "every scheduled session in the last 7 days was kept" in s.reason
    text = p.text()
    assert "Rule 5 (on-track)" in text and "Next due: 2024-05-08 09:00" in text


def test_plan_falling_output_after_power_days_suggests_a_lactation_consultant(tmp_path):
    last = T0 + timedelta(days=8)
    power = {T0 + timedelta(days=3, hours=12): "power", T0 + timedelta(days=4, hours=12): "power"}
    records = every3(T0, last, program=power)
    vols = {(T0 + timedelta(days=k)).date(): v
            for k, v in enumerate([700, 705, 700, 690, 680, 650, 640, 630])}
    p = plan.make_plan(history(tmp_path, records, vols), EVERY3, last + timedelta(hours=1))
    assert p.rules() == [4]
    s = suggestion(p, 4)
    assert "lactation consultant" in s.action
    assert "after the power-pumping days (2024-05-04, 2024-05-05)" in s.reason
    assert "640 mL on the 3 days after" in s.reason and "702 mL on the days before" in s.reason
    assert "Rule 4 (lactation-consultant)" in p.text()


def test_plan_falling_five_days_suggests_consultant_and_power(tmp_path):
    last = T0 + timedelta(days=6)
    vols = {(T0 + timedelta(days=k)).date(): v for k, v in enumerate([700, 690, 680, 670, 660, 650])}
    p = plan.make_plan(history(tmp_path, every3(T0, last), vols), EVERY3, last + timedelta(hours=1))
    assert p.rules() == [3, 4]
    assert "fell 5 days in a row" in suggestion(p, 4).reason


def test_plan_power_days_already_done(tmp_path):
    day = T0 + timedelta(days=3)
    power = {day + timedelta(days=k, hours=12): "power" for k in range(3)}
    records = every3(T0, day + timedelta(days=2, hours=15), program=power,
                     skip={day + timedelta(days=2, hours=3), day + timedelta(days=2, hours=9)})
    p = plan.make_plan(history(tmp_path, records), EVERY3, day + timedelta(days=2, hours=16))
    assert "the 2-3 days are done" in suggestion(p, 3).action


def test_plan_clock_unset_records(tmp_path):
    # boot 2: the clock was set for #3 only; #4 is placed from its uptime
    records = [rec(1, T0, boot=1), rec(2, T0 + timedelta(hours=3), boot=1),
               rec(3, T0 + timedelta(hours=6), boot=2, uptime_s=1000),
               rec(4, None, boot=2, uptime_s=1000 + 3 * 3600)]
    sessions = history(tmp_path, records)
    placed = [s for s in sessions if s.seq == 4][0]
    assert placed.when == T0 + timedelta(hours=9) and placed.when_from == "uptime"
    p = plan.make_plan(sessions, EVERY3, T0 + timedelta(hours=10))
    assert p.rules() == [5] and p.due == T0 + timedelta(hours=12)
    assert any("placed from the board's uptime" in n for n in p.notes)

    # boot 3 never had a clock: #5 cannot be placed; it comes after the last known session,
    # so the due time cannot be worked out, and no time is made up
    records.append(rec(5, None, boot=3, uptime_s=50))
    p = plan.make_plan(history(_fresh(tmp_path, "b"), records), EVERY3, T0 + timedelta(hours=20))
    assert p.state == "unknown" and 1 not in p.rules()
    assert any("without a time" in n and "pico #5 (after 2024-05-01 15:00)" in n for n in p.notes)
    assert any("cannot be worked out" in n for n in p.notes)

    # a time-unknown session inside a long gap may have kept the missed one: not counted
    records = [rec(1, T0), rec(2, None, boot=2, uptime_s=10), rec(3, T0 + timedelta(hours=6), boot=3)]
    h = plan.History(history(_fresh(tmp_path, "c"), records), EVERY3, T0 + timedelta(hours=7))
    assert len(h.misses) == 1 and h.misses[0].possibly_kept and h.counted == []


def test_plan_times_schedule(tmp_path):
    times = plan.parse_schedule({"times": ["06:00", "12:00", "18:00"], "grace_min": 30}, "test")
    at = lambda d, h, m=0: datetime(2024, 5, d, h, m)
    records = [rec(1, at(1, 6)), rec(2, at(1, 12, 10)), rec(3, at(1, 17, 50)), rec(4, at(2, 6, 20))]
    sessions = history(tmp_path, records)
    assert plan.History(sessions, times, at(2, 7)).counted == []
    p = plan.make_plan(sessions, times, at(2, 7))
    assert p.rules() == [5] and p.due == at(2, 12)
    p = plan.make_plan(sessions, times, at(2, 12, 10))
    assert p.state == "due" and p.rules() == [1]
    p = plan.make_plan(sessions, times, at(2, 13))
    assert p.state == "overdue" and p.rules() == [1, 2]
    assert "the 2024-05-02 12:00 session (nothing started by 2024-05-02 12:30)" in suggestion(p, 2).reason
    # a late session is the catch-up for the slot it missed, not an early one for the next slot
    late = history(_fresh(tmp_path, "late"), records[:3] + [rec(4, at(2, 7))])
    p = plan.make_plan(late, times, at(2, 8))
    assert p.rules() == [2] and p.state == "not_due" and p.due == at(2, 12)
    assert [m.due for m in p.history.counted] == [at(2, 6)]
    p = plan.make_plan(late, times, at(2, 12, 45))
    assert p.state == "overdue" and p.due == at(2, 12)
    assert [m.due for m in p.history.counted] == [at(2, 6), at(2, 12)] and p.rules() == [1, 3]
    # a whole day without a session misses every listed time
    h = plan.History(sessions, times, at(3, 7))
    assert [m.due for m in h.counted] == [at(2, 12), at(2, 18), at(3, 6)]


def test_plan_notes_faults(tmp_path):
    last = T0 + timedelta(days=1)
    records = every3(T0, last)
    records[-1]["faults"], records[-1]["end"] = ["no_vacuum"], "fault"
    records[-2]["faults"] = ["over_vacuum"]
    p = plan.make_plan(history(tmp_path, records), EVERY3, last + timedelta(hours=1))
    text = p.text()
    assert "no_vacuum in 1 of the last 9 sessions" in text and "fit or seal of the breast shield" in text
    assert "over_vacuum" in text and "sensor calibration" in text


def test_plan_cli_schedule_file_and_defaults(tmp_path, capsys, monkeypatch):
    db = tmp_path / "s.db"
    run(capsys, "--db", db, "import", write(tmp_path / "sessions.log", every3(T0, T0 + timedelta(days=1))))
    monkeypatch.chdir(tmp_path)            # no profiles.json here: the default, said so
    code, out, _ = run(capsys, "--db", db, "plan", "--now", "2024-05-02T07:00")
    assert code == 0 and "every 180 min, grace 45 min (default: every 3 hours, no profiles.json here)" in out
    assert "Rule 5 (on-track)" in out and "Why:" in out
    prof = tmp_path / "profiles.json"
    prof.write_text(json.dumps({"version": 1, "schedule": {"every_min": 120, "grace_min": 30}}))
    code, out, _ = run(capsys, "--db", db, "plan", "--now", "2024-05-02T08:40")
    assert code == 0 and "every 120 min, grace 30 min (from profiles.json)" in out and "Rule 1 (pump-now)" in out
    prof.write_text(json.dumps({"schedule": {"every_min": 30, "times": ["6:00"], "grace_min": 500}}))
    code, _, err = run(capsys, "--db", db, "plan", "--schedule", prof, "--now", "2024-05-02T08:40")
    assert code == 2
    for want in ("schedule: give exactly one of every_min and times", "schedule.every_min: 30 is not",
                 "schedule.times[0]: \"6:00\" is not a time", "schedule.grace_min: 500 is not"):
        assert want in err
    assert run(capsys, "--db", tmp_path / "none.db", "plan")[0] == 2


def test_add_on_an_empty_history_creates_nothing(tmp_path, capsys):
    db = str(tmp_path / "sessions.db")
    assert main(["--db", db, "add", "12", "--volume-ml", "110"]) == 2
    assert "no history at" in capsys.readouterr().err
    assert not os.path.exists(db)
    assert main(["--db", db, "import", str(tmp_path / "nosuch.log")]) == 2         # nothing imported: no database
    assert not os.path.exists(db)


# -- missed sessions, one per scheduled slot ---------------------------------------------

def test_a_12_hour_gap_on_a_3_hour_schedule_is_three_missed_sessions_across_midnight(tmp_path):
    at = lambda d, h, m=0: datetime(2024, 5, d, h, m)
    sessions = history(tmp_path, [rec(1, at(1, 18)), rec(2, at(1, 21)), rec(3, at(2, 9))])
    h = plan.History(sessions, EVERY3, at(2, 10))
    assert [m.due for m in h.counted] == [at(2, 0), at(2, 3), at(2, 6)]     # the 09:00 slot is kept
    assert [m.deadline for m in h.counted] == [at(2, 0, 45), at(2, 3, 45), at(2, 6, 45)]
    days = {d.day: len(d.misses) for d in h.days(at(1, 0).date(), at(2, 0).date())}
    assert days == {at(1, 0).date(): 0, at(2, 0).date(): 3}
    p = plan.make_plan(sessions, EVERY3, at(2, 10))
    assert p.rules() == [3]                  # power pumping today stands in for the extra session
    assert suggestion(p, 3).reason == (
        "3 sessions missed in the last 24 h: the session due at 2024-05-02 00:00 (12 h 00 min without a "
        "session); the session due at 2024-05-02 03:00 (nothing started by 2024-05-02 03:45); the session due "
        "at 2024-05-02 06:00 (nothing started by 2024-05-02 06:45)")


def test_each_slot_gets_its_own_grace(tmp_path):
    at = lambda d, h, m=0: datetime(2024, 5, d, h, m)
    # 09:40 is inside the 09:00 slot's 45 min grace: it keeps that slot; 09:50 is not
    kept = history(tmp_path, [rec(1, at(1, 21)), rec(2, at(2, 9, 40))])
    assert len(plan.History(kept, EVERY3, at(2, 10)).counted) == 3
    late = history(_fresh(tmp_path, "late"), [rec(1, at(1, 21)), rec(2, at(2, 9, 50))])
    assert [m.due for m in plan.History(late, EVERY3, at(2, 10)).counted] == [at(2, 0), at(2, 3), at(2, 6),
                                                                              at(2, 9)]
    # and a gap just over one slot's grace is one miss, as before
    one = history(_fresh(tmp_path, "one"), [rec(1, at(1, 6)), rec(2, at(1, 9, 50))])
    assert [m.due for m in plan.History(one, EVERY3, at(1, 10)).counted] == [at(1, 9)]


def test_the_open_gap_since_the_last_session_counts_every_slot_whose_grace_ended(tmp_path):
    at = lambda d, h, m=0: datetime(2024, 5, d, h, m)
    sessions = history(tmp_path, [rec(1, at(1, 6))])
    h = plan.History(sessions, EVERY3, at(1, 16))
    assert [(m.due, m.how) for m in h.counted] == [(at(1, 9), "open"), (at(1, 12), "open"), (at(1, 15), "open")]
    assert len(plan.History(sessions, EVERY3, at(1, 15, 44)).counted) == 2        # 15:00 still in its grace


def test_a_time_unknown_session_in_a_long_gap_may_have_kept_one_slot_not_all(tmp_path):
    at = lambda d, h, m=0: datetime(2024, 5, d, h, m)
    records = [rec(1, at(1, 21), boot=1), rec(2, None, boot=2, uptime_s=30), rec(3, at(2, 9), boot=3)]
    h = plan.History(history(tmp_path, records), EVERY3, at(2, 10))
    assert len(h.misses) == 3
    assert sum(m.possibly_kept for m in h.misses) == 1 and len(h.counted) == 2
    assert [s.seq for s in h.unknown] == [2]                                   # kept, shown, not dropped


def test_times_schedule_across_midnight_counts_each_listed_time(tmp_path):
    times = plan.parse_schedule({"times": ["02:00", "10:00", "22:00"], "grace_min": 30}, "test")
    at = lambda d, h, m=0: datetime(2024, 5, d, h, m)
    sessions = history(tmp_path, [rec(1, at(1, 22, 5)), rec(2, at(2, 10))])
    h = plan.History(sessions, times, at(2, 11))
    assert [m.due for m in h.counted] == [at(2, 2)]
    h = plan.History(sessions, times, at(3, 11))
    assert [m.due for m in h.counted] == [at(2, 2), at(2, 22), at(3, 2), at(3, 10)]
    days = {d.day: len(d.misses) for d in h.days(at(2, 0).date(), at(3, 0).date())}
    assert days == {at(2, 0).date(): 2, at(3, 0).date(): 2}


# -- records without a clock time, placed from the uptime make logs saw --------------------

def test_records_of_a_boot_without_a_clock_are_placed_from_the_boot_start_make_logs_stored(tmp_path):
    # boot 4 never had a clock; make logs saw it at 12:00 with 5 h of uptime: it began at 07:00
    records = [rec(1, T0, boot=3, uptime_s=100), rec(2, None, boot=4, uptime_s=600),
               rec(3, None, boot=4, uptime_s=600 + 3 * 3600), rec(4, None, boot=5, uptime_s=60)]
    st = Store(str(tmp_path / "h.db"))
    recs, _ = logfile.parse_bytes(b"".join(line(r) for r in records))
    st.import_records(recs)
    st.add_boot(BOARD, 4, datetime(2024, 5, 1, 7, 0))
    st.add_boot(BOARD, 4, datetime(2024, 5, 1, 7, 5))                          # a later pull keeps the first
    got = {s.seq: (s.when, s.when_from) for s in st.sessions()}
    st.close()
    assert got[2] == (datetime(2024, 5, 1, 7, 10), "uptime")
    assert got[3] == (datetime(2024, 5, 1, 10, 10), "uptime")
    assert got[4] == (None, None)                                              # boot 5: time unknown, kept
    assert got[1] == (T0, "clock")


# -- volume per breast -----------------------------------------------------------------

def _imported(tmp_path, capsys, records):
    db = tmp_path / "s.db"
    assert run(capsys, "--db", db, "import", write(tmp_path / "sessions.log", records))[0] == 0
    return db


def _sessions(db):
    st = Store(str(db))
    try:
        return {(s.board, s.seq): s for s in st.sessions()}
    finally:
        st.close()


def test_add_left_and_right_volumes_make_the_total_and_show_in_the_tables(tmp_path, capsys):
    db = _imported(tmp_path, capsys, every3(T0, T0 + timedelta(hours=12)))
    code, out, err = run(capsys, "--db", db, "add", 1, "--left-ml", 60, "--right-ml", 45)
    assert (code, err) == (0, "") and "pico #1: volume 105 mL (left 60 mL + right 45 mL)" in out
    assert run(capsys, "--db", db, "add", 2, "--volume-ml", 100, "--left-ml", 70)[0] == 0      # right is the rest
    assert run(capsys, "--db", db, "add", 3, "--left-ml", 50)[0] == 0                          # one side only
    assert run(capsys, "--db", db, "add", 4, "--volume-ml", 80, "--note", "not split")[0] == 0  # total as before
    code, out, _ = run(capsys, "--db", db, "add", 1, "--right-ml", 55)                          # a side corrected
    assert code == 0 and "volume 115 mL (left 60 mL + right 55 mL) (was 105 mL)" in out
    code, out, _ = run(capsys, "--db", db, "add", "--start", "2024-05-01T19:00", "--left-ml", 30, "--right-ml", 20)
    assert code == 0 and "added manual #1" in out and "50 mL (left 30 mL + right 20 mL)" in out
    got = {k: (s.left_ml, s.right_ml, s.volume_ml) for k, s in _sessions(db).items()}
    assert got[(BOARD, 1)] == (60, 55, 115)
    assert got[(BOARD, 2)] == (70, 30, 100)
    assert got[(BOARD, 3)] == (50, None, 50)
    assert got[(BOARD, 4)] == (None, None, 80)
    assert got[("manual", 1)] == (30, 20, 50)

    out_dir = tmp_path / "rep"
    code, out, err = run(capsys, "--db", db, "report", "--out", out_dir, "--now", "2024-05-01T20:00")
    assert code == 0, err
    assert "  day         sessions  missed  left     right    volume" in out
    # the day: left 60 + 70 + 50 + 30, right 55 + 30 + 20; 5 of the 6 sessions have a volume
    assert re.search(r"2024-05-01 +6 +\d+  210 mL   105 mL   395 mL \(5 of 6 entered\)", out), out
    page = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "<th>missed</th><th>left</th><th>right</th><th>volume</th>" in page
    assert "<th>schedule</th><th>left</th><th>right</th><th>volume</th>" in page
    assert "<td>60 mL</td><td>55 mL</td><td>115 mL</td>" in page
    assert "<td>50 mL</td><td></td><td>50 mL</td>" in page
    assert "<td></td><td></td><td>80 mL</td><td>not split</td>" in page


def test_the_tables_have_no_left_right_columns_when_no_session_has_them(tmp_path, capsys):
    db = _imported(tmp_path, capsys, every3(T0, T0 + timedelta(hours=6)))
    assert run(capsys, "--db", db, "add", 1, "--volume-ml", 90)[0] == 0
    code, out, _ = run(capsys, "--db", db, "report", "--out", tmp_path / "rep", "--now", "2024-05-01T20:00")
    assert code == 0 and "  day         sessions  missed  volume" in out and "right" not in out
    assert "<th>left</th>" not in (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")


def test_volume_options_that_do_not_fit_are_refused_in_one_line_and_change_nothing(tmp_path, capsys):
    db = _imported(tmp_path, capsys, every3(T0, T0 + timedelta(hours=6)))
    assert run(capsys, "--db", db, "add", 1, "--left-ml", 60, "--right-ml", 45)[0] == 0
    refused = {
        ("--volume-ml", "110", "--left-ml", "60", "--right-ml", "45"): "left 60 mL + right 45 mL = 105 mL, but the "
                                                                         "total is 110 mL",
        ("--volume-ml", "110"): "left 60 mL + right 45 mL (as entered before) = 105 mL, but the total is 110 mL",
        ("--volume-ml", "40", "--left-ml", "60", "--right-ml", None): "left 60 mL is more than the total 40 mL",
        ("--left-ml", "-5"): "--left-ml -5 is outside 0-2000 mL",
        ("--right-ml", "2500"): "--right-ml 2500 is outside 0-2000 mL",
        ("--left-ml", "1500", "--right-ml", "1000"): "left 1500 mL + right 1000 mL = 2500 mL is more than 2000 mL",
        ("--left-ml", "sixty"): "--left-ml sixty is not a number of mL",
        ("--volume-ml", "nan"): "--volume-ml nan is not a number of mL",
        ("--right-ml", "inf"): "--right-ml inf is not a number of mL",
        ("--volume-ml", "abc"): "--volume-ml abc is not a number of mL",
    }
    for opts, want in refused.items():
        argv = ["--db", db, "add", 1] + [o for o in opts if o is not None]
        if opts[-1] is None:           # a side given, the other taken from before: right 45 stays, left 60 given
            argv = ["--db", db, "add", 1, "--volume-ml", "40", "--left-ml", "60"]
            want = "left 60 mL + right 45 mL (as entered before) = 105 mL, but the total is 40 mL"
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "", (opts, out, err)
        assert want in err and err.count("\n") == 1 and err.startswith("error: "), (opts, err)
        assert "Traceback" not in err and "usage:" not in err
    s = _sessions(db)[(BOARD, 1)]
    assert (s.left_ml, s.right_ml, s.volume_ml) == (60, 45, 105)
    # a session with no sides yet: a side bigger than the total given with it
    code, _, err = run(capsys, "--db", db, "add", 2, "--volume-ml", 40, "--right-ml", 60)
    assert code == 2 and "right 60 mL is more than the total 40 mL" in err
    code, _, err = run(capsys, "--db", db, "add", "--start", "2024-05-02T06:00", "--volume-ml", 10, "--left-ml", 20)
    assert code == 2 and "left 20 mL is more than the total 10 mL" in err
    assert ("manual", 1) not in _sessions(db)                     # the manual session was not added


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sessions (board TEXT NOT NULL, seq INTEGER NOT NULL, manual INTEGER NOT NULL DEFAULT 0,
    board_name TEXT NOT NULL, boot INTEGER, start TEXT, uptime_s INTEGER, duration_s INTEGER NOT NULL,
    duration_at_least INTEGER NOT NULL, program TEXT NOT NULL, end_reason TEXT NOT NULL, schedule TEXT NOT NULL,
    faults TEXT NOT NULL, record TEXT, crc TEXT, source TEXT NOT NULL, imported_at TEXT NOT NULL,
    PRIMARY KEY (board, seq));
CREATE TABLE entries (board TEXT NOT NULL, seq INTEGER NOT NULL, volume_ml REAL, note TEXT,
    updated_at TEXT NOT NULL, PRIMARY KEY (board, seq));
CREATE TABLE conflicts (board TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL, source TEXT NOT NULL,
    seen_at TEXT NOT NULL, UNIQUE (board, seq, record));
INSERT INTO meta VALUES ('schema_version', '1');
"""


def _v1_database(path):
    """A history as the schema-1 tool left it: two sessions, one with a volume and a note."""
    c = sqlite3.connect(str(path))
    c.executescript(V1_SCHEMA)
    for r in (rec(1, T0), rec(2, T0 + timedelta(hours=3))):
        text = json.dumps(r)
        c.execute("INSERT INTO sessions VALUES (?, ?, 0, ?, ?, ?, ?, ?, 0, ?, ?, ?, '[]', ?, ?, 'old.log:1', "
                  "'2024-05-01T12:00:00')", (r["board"], r["seq"], r["board_name"], r["boot"], r["start"],
                                             r["uptime_s"], r["duration_s"], r["program"], r["end"], r["schedule"],
                                             text, "%08x" % (zlib.crc32(text.encode()) & 0xFFFFFFFF)))
    c.execute("INSERT INTO entries VALUES (?, 1, 110, 'after feed', '2024-05-01T12:00:00')", (BOARD,))
    c.commit()
    c.close()


def test_a_version_1_database_is_migrated_in_place_keeping_its_data(tmp_path, capsys):
    db = tmp_path / "old.db"
    _v1_database(db)
    code, out, err = run(capsys, "--db", db, "add", 2, "--left-ml", 50, "--right-ml", 40)
    assert (code, err) == (0, ""), err
    with sqlite3.connect(str(db)) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
        cols = [r[1] for r in c.execute("PRAGMA table_info(entries)")]
        assert cols[:5] == ["board", "seq", "volume_ml", "note", "updated_at"] and {"left_ml", "right_ml"} <= set(cols)
        assert c.execute("SELECT COUNT(*) FROM exports").fetchone() == (0,)
    got = _sessions(db)
    assert (got[(BOARD, 1)].volume_ml, got[(BOARD, 1)].note, got[(BOARD, 1)].left_ml) == (110, "after feed", None)
    assert (got[(BOARD, 2)].left_ml, got[(BOARD, 2)].right_ml, got[(BOARD, 2)].volume_ml) == (50, 40, 90)
    assert got[(BOARD, 1)].when == T0 and got[(BOARD, 2)].record["seq"] == 2
    # opened again: nothing more to do, the data as it was
    assert run(capsys, "--db", db, "add", 1, "--note", "still there")[0] == 0
    assert (_sessions(db)[(BOARD, 1)].volume_ml, _sessions(db)[(BOARD, 1)].note) == (110, "still there")


def test_a_database_of_a_newer_schema_is_refused_and_left_as_it_is(tmp_path, capsys):
    db = tmp_path / "new.db"
    _v1_database(db)
    with sqlite3.connect(str(db)) as c:
        c.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    code, _, err = run(capsys, "--db", db, "add", 1, "--volume-ml", 90)
    assert code == 2 and "has schema version 3; this tool reads 2" in err and err.count("\n") == 1
    with sqlite3.connect(str(db)) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "exports" not in tables and "left_ml" not in [r[1] for r in c.execute("PRAGMA table_info(entries)")]
        assert c.execute("SELECT volume_ml FROM entries").fetchall() == [(110,)]


# -- report on an empty history ------------------------------------------------------------

def test_report_on_an_empty_history_says_so_in_one_line_without_warnings(tmp_path, capsys):
    import warnings
    db = tmp_path / "s.db"
    Store(str(db)).close()                         # a history with no session yet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run(capsys, "--db", db, "report", "--out", tmp_path / "rep")
    assert code == 0 and err == "" and [str(w.message) for w in caught] == []
    assert out.count("\n") == 1 and out.startswith("nothing to report yet")
    assert "make logs" in out and "tools.sessions add" in out
    assert not (tmp_path / "rep").exists()


def test_report_of_sessions_that_are_not_on_any_chart_makes_no_matplotlib_warnings(tmp_path, capsys):
    import warnings
    db = _imported(tmp_path, capsys, [rec(1, None, boot=2, uptime_s=100)])      # time unknown: on no chart
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = run(capsys, "--db", db, "report", "--out", tmp_path / "rep", "--now", "2024-05-03T07:00")
    assert code == 0 and err == "" and "time unknown: 1 session (pico #1)" in out


# -- the phone's notes (notes.log, written by a web board) ------------------------------

def note(seq, left=None, right=None, text=None, board=BOARD, at="2024-05-01T07:00:00"):
    return {"v": 1, "kind": "note", "board": board, "seq": seq, "left_ml": left, "right_ml": right,
            "note": text, "at": at}


def test_the_phones_notes_are_imported_into_the_volumes_once(tmp_path, capsys):
    db = tmp_path / "s.db"
    logs = write(tmp_path / "sessions.log", [rec(1, T0), rec(2, T0 + timedelta(hours=3))])
    notes = write(tmp_path / "notes.log", [note(1, 60, 45.5, "tired"), note(2, right=30), note(2, left=20),
                                           note(1, text="better")])
    code, out, err = run(capsys, "--db", db, "import", logs, notes)
    assert code == 0 and "2 new, 0 already known; 4 notes from the phone applied, 0 already" in out, out + err
    st = Store(str(db))
    assert st.entry_row(BOARD, 1) == {"volume_ml": 105.5, "left_ml": 60, "right_ml": 45.5, "note": "better"}
    assert st.entry_row(BOARD, 2) == {"volume_ml": 50, "left_ml": 20, "right_ml": 30, "note": None}
    st.close()
    # A later correction on the host is not undone by importing the same notes again.
    assert run(capsys, "--db", db, "add", "1", "--board", BOARD, "--left-ml", "70")[0] == 0
    code, out, err = run(capsys, "--db", db, "import", logs, notes)
    assert code == 0 and "0 new, 2 already known; 0 notes from the phone applied, 4 already" in out
    st = Store(str(db))
    assert st.entry_row(BOARD, 1)["left_ml"] == 70
    st.close()


def test_a_bad_note_is_skipped_naming_the_field(tmp_path, capsys):
    notes = write(tmp_path / "notes.log", [note(1, left=-5), note(1), note(0, left=5), dict(note(1, 5), kind="x"),
                                           note(1, text="x" * 201), note(1, left=5)])
    logs = write(tmp_path / "sessions.log", [rec(1, T0)])
    code, out, err = run(capsys, "--db", tmp_path / "s.db", "import", logs, notes)
    assert code == 1 and "1 note from the phone applied" in out
    for why in ("notes.log:1: note: field left_ml: -5 is not null or a number of mL in 0-2000",
                "notes.log:2: note: nothing in it", "notes.log:3: note: field seq: 0 is not a session number",
                "notes.log:4: unknown record kind \"x\"", "notes.log:5: note: field note:"):
        assert why in err, err


def test_the_boards_own_note_lines_import(tmp_path, capsys):
    """What firmware/web/link.py writes (pump.record.encode of its note) is a
    record tools/sessions takes."""
    from tools import paths
    paths.use_firmware()
    from pump.record import encode
    path = tmp_path / "notes.log"
    path.write_text(encode({"v": 1, "kind": "note", "board": BOARD, "seq": 1, "left_ml": 12.5, "right_ml": None,
                            "note": "ok", "at": None}))
    recs, probs = logfile.parse_file(str(path))
    assert not probs and recs[0].is_note and recs[0].data["left_ml"] == 12.5
