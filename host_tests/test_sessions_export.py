"""`python -m tools.sessions export`: the CSV file (parsed back with the csv
module) and the pumping entries sent to Baby Buddy, against a local
http.server on 127.0.0.1 that checks each request the way Baby Buddy 2.x's
API does (api/serializers.py PumpingSerializer, core/models.py Pumping,
openapi-schema.yml) and answers as it would: 201 with the entry and its id,
400 with the field errors, 401 for a wrong token."""
import csv
import errno
import io
import json
import os
import socket
import sqlite3
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from test_sessions import BOARD, T0, every3, rec, run, write
from tools.sessions import export
from tools.sessions.store import Store

TOKEN = "2h23807gd72h7hop382p98hd823dw3g665g56"
# Baby Buddy's PumpingSerializer fields a client may send (id and duration are read-only)
PUMPING_FIELDS = {"child", "amount", "start", "end", "notes", "tags", "timer"}


# -- a Baby Buddy stand-in ---------------------------------------------------------------

class FakeBabyBuddy:
    """What the server saw (requests), what it holds (entries) and how it
    should answer: `children` that exist, `fail_at` {request number: (status,
    body)} forced answers, `legacy` a Baby Buddy 1.x whose pumping has
    `time` instead of start/end."""

    def __init__(self):
        self.children = {1, 2}
        self.entries = []
        self.requests = []
        self.problems = []           # what our client sent that Baby Buddy's docs do not allow
        self.fail_at = {}
        self.legacy = False
        self.next_id = 101
        self.lock = threading.Lock()

    def answer(self, method, path, headers, raw):
        with self.lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "raw": raw})
            n = len(self.requests)
            if path != "/api/pumping/" or method != "POST":
                return 404, {"detail": "Not found."}
            auth = headers.get("Authorization")
            if auth is None:
                return 401, {"detail": "Authentication credentials were not provided."}
            if auth != "Token " + TOKEN:
                return 401, {"detail": "Invalid token."}
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype != "application/json":
                return 415, {"detail": "Unsupported media type \"%s\" in request." % ctype}
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError as e:
                return 400, {"detail": "JSON parse error - %s" % e}
            if n in self.fail_at:
                return self.fail_at[n]
            return self._create(body)

    def _create(self, body):
        if not isinstance(body, dict):
            return 400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
        extra = set(body) - PUMPING_FIELDS
        if extra:
            self.problems.append("fields Baby Buddy does not have: %s" % sorted(extra))
        errors = {}
        if self.legacy:
            if "time" not in body:
                errors["time"] = ["This field is required."]
            if "amount" not in body:
                errors["amount"] = ["This field is required."]
            return (400, errors) if errors else (201, dict(body, id=self._id()))
        amount = body.get("amount")
        if amount is None:
            errors["amount"] = ["This field is required."]
        elif isinstance(amount, bool) or not isinstance(amount, (int, float)):
            self.problems.append("amount is not a JSON number: %r" % (amount,))
            errors["amount"] = ["A valid number is required."]
        child = body.get("child")
        if child is None:
            errors["child"] = ["This field is required."]
        elif isinstance(child, bool) or not isinstance(child, int):
            errors["child"] = ["Incorrect type. Expected pk value, received %s." % type(child).__name__]
        elif child not in self.children:
            errors["child"] = ["Invalid pk \"%s\" - object does not exist." % child]
        times = {}
        for key in ("start", "end"):
            if body.get(key) is None:
                errors[key] = ["This field is required."]
                continue
            try:
                t = datetime.fromisoformat(body[key])
            except (TypeError, ValueError):
                t = None
            if t is None or t.tzinfo is None:          # we send an offset: no guessing the server's zone
                if t is not None:
                    self.problems.append("%s has no UTC offset: %r" % (key, body[key]))
                errors[key] = ["Datetime has wrong format. Use one of these formats instead: "
                               "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]
            else:
                times[key] = t
        if "notes" in body and body["notes"] is not None and not isinstance(body["notes"], str):
            errors["notes"] = ["Not a valid string."]
        if errors:
            return 400, errors
        start, end = times["start"], times["end"]
        # the model's clean(): validate_time, validate_duration, validate_unique_period
        if start > datetime.now().astimezone():
            return 400, {"start": ["Date/time can not be in the future."]}
        if start > end:
            return 400, {"non_field_errors": ["Start time must come before end time."]}
        if end - start > timedelta(hours=24):
            return 400, {"non_field_errors": ["Duration too long."]}
        for e in self.entries:
            if e["child"] == child and e["_start"] < end and start < e["_end"]:
                return 400, {"non_field_errors": ["Another entry intersects the specified time period."]}
        entry = {"id": self._id(), "child": child, "amount": float(amount), "start": body["start"],
                 "end": body["end"], "duration": str(end - start), "notes": body.get("notes"), "tags": [],
                 "_start": start, "_end": end}
        self.entries.append(entry)
        return 201, {k: v for k, v in entry.items() if not k.startswith("_")}

    def _id(self):
        self.next_id += 1
        return self.next_id - 1

    def posts(self):
        return [json.loads(r["raw"].decode("utf-8")) for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    def _serve(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = self.server.fake.answer(self.command, self.path, self.headers, raw)
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", "Token")
        if status in (301, 302):
            self.send_header("Location", body.get("location", ""))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET = _serve

    def log_message(self, *args):
        pass


@pytest.fixture
def babybuddy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("BABYBUDDY_TOKEN", raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.fake = FakeBabyBuddy()
    server.fake.url = "http://127.0.0.1:%d" % server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.fake
    server.shutdown()
    server.server_close()
    thread.join()
    assert server.fake.problems == []


# -- a history --------------------------------------------------------------------------

def _history(tmp_path, capsys):
    """Five board sessions every 3 h from T0 (#3 with a fault), one more
    without a time, one manual: volumes on #1 (per breast), #2, #4, the
    unknown one and the manual one; #3 and #5 have none."""
    db = tmp_path / "s.db"
    records = every3(T0, T0 + timedelta(hours=12))
    records[2] = rec(3, T0 + timedelta(hours=6), faults=["no_vacuum"])
    records.append(rec(6, None, boot=2, uptime_s=100))
    assert run(capsys, "--db", db, "import", write(tmp_path / "sessions.log", records))[0] == 0
    for argv in (["add", 1, "--left-ml", 60, "--right-ml", 45, "--note", 'sore, "left"\nnext time: shield 24'],
                 ["add", 2, "--volume-ml", 90.5], ["add", 4, "--volume-ml", 120], ["add", 6, "--volume-ml", 70],
                 ["add", "--start", "2024-05-01T19:30", "--volume-ml", 40, "--duration-min", 10,
                  "--note", "hand pump"]):
        assert run(capsys, "--db", db, *argv)[0] == 0
    return db


def _exports(db):
    with sqlite3.connect(str(db)) as c:
        return c.execute("SELECT board, seq, target, remote_id, child, amount FROM exports "
                         "ORDER BY board, seq").fetchall()


def _bb(capsys, db, fake, *more, token=TOKEN, child=1):
    argv = ["--db", db, "export", "--babybuddy", fake.url, "--child", child] + list(more)
    if token is not None:
        argv += ["--token", token]
    return run(capsys, *argv)


# -- CSV ----------------------------------------------------------------------------------

def test_csv_has_a_header_and_one_row_per_session_that_parse_back(tmp_path, capsys):
    db = _history(tmp_path, capsys)
    path = tmp_path / "out" / "sessions.csv"
    path.parent.mkdir()
    code, out, err = run(capsys, "--db", db, "export", "--csv", path)
    assert (code, err) == (0, "") and out == "wrote %s (7 sessions)\n" % path
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["board", "seq", "label", "start", "time_source", "duration_min", "program", "end",
                                 "peak_expression_mmhg", "peak_stimulation_mmhg", "faults", "left_ml", "right_ml",
                                 "volume_ml", "note"]
    assert [(r["board"], r["seq"]) for r in rows] == [(BOARD, "1"), (BOARD, "2"), (BOARD, "3"), (BOARD, "4"),
                                                      (BOARD, "5"), ("manual", "1"), (BOARD, "6")]
    first = rows[0]
    assert datetime.fromisoformat(first["start"]) == T0
    assert (first["label"], first["time_source"], first["duration_min"], first["program"], first["end"]) == (
        "pico #1", "clock", "30.0", "standard", "stop")
    assert (first["peak_expression_mmhg"], first["peak_stimulation_mmhg"]) == ("191", "112.5")
    assert (first["left_ml"], first["right_ml"], first["volume_ml"]) == ("60", "45", "105")
    assert first["note"] == 'sore, "left"\nnext time: shield 24'                  # quoted, round trip
    assert (rows[1]["left_ml"], rows[1]["right_ml"], rows[1]["volume_ml"]) == ("", "", "90.5")
    assert (rows[2]["faults"], rows[2]["end"], rows[2]["volume_ml"]) == ("no_vacuum", "fault", "")
    manual = rows[5]
    assert (manual["time_source"], manual["start"], manual["duration_min"], manual["peak_expression_mmhg"],
            manual["note"]) == ("manual", "2024-05-01T19:30:00", "10.0", "", "hand pump")
    unknown = rows[6]                                                            # time unknown: last, no start
    assert (unknown["start"], unknown["time_source"], unknown["volume_ml"]) == ("", "unknown", "70")


def test_csv_to_stdout_is_the_same_table_and_nothing_else(tmp_path, capsys):
    db = _history(tmp_path, capsys)
    code, out, err = run(capsys, "--db", db, "export", "--csv", "-")
    assert (code, err) == (0, "")
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0][:3] == ["board", "seq", "label"] and len(rows) == 8
    assert run(capsys, "--db", db, "export", "--csv", tmp_path / "f.csv")[0] == 0
    with open(tmp_path / "f.csv", newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == rows


def test_csv_write_error_leaves_the_old_file_and_no_half_written_one(tmp_path, capsys, monkeypatch):
    db = _history(tmp_path, capsys)
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "sessions.csv"
    path.write_text("the old export\n")
    real, calls = export.csv_row, []

    def disk_full_at_the_third_row(s):
        calls.append(s)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(s)

    monkeypatch.setattr(export, "csv_row", disk_full_at_the_third_row)
    code, out, err = run(capsys, "--db", db, "export", "--csv", path)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert "cannot write %s (No space left on device); it is unchanged" % path in err
    assert path.read_text() == "the old export\n" and os.listdir(folder) == ["sessions.csv"]
    code, _, err = run(capsys, "--db", db, "export", "--csv", tmp_path / "nosuch" / "x.csv")
    assert code == 2 and "no folder" in err and err.count("\n") == 1
    code, _, err = run(capsys, "--db", db, "export", "--csv", folder)
    assert code == 2 and "is a folder" in err


def test_export_without_a_history_creates_nothing(tmp_path, capsys):
    db = tmp_path / "none.db"
    code, _, err = run(capsys, "--db", db, "export", "--csv", tmp_path / "x.csv")
    assert code == 2 and "no history at" in err
    assert not db.exists() and not (tmp_path / "x.csv").exists()


# -- Baby Buddy ----------------------------------------------------------------------------

def test_each_session_with_a_time_and_a_volume_is_posted_as_baby_buddy_documents_it(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    code, out, err = _bb(capsys, db, babybuddy)
    assert (code, err) == (0, ""), err
    target = babybuddy.url + "/api/pumping/"
    for r in babybuddy.requests:
        assert (r["method"], r["path"]) == ("POST", "/api/pumping/")
        assert r["headers"]["Authorization"] == "Token " + TOKEN
        assert r["headers"]["Content-Type"] == "application/json"
    posts = babybuddy.posts()
    # #1, #2, #4 and the manual one; #3 and #5 have no volume, #6 no time
    assert [p["amount"] for p in posts] == [105.0, 90.5, 120.0, 40.0]
    first = posts[0]
    assert set(first) == {"child", "amount", "start", "end", "notes"} and first["child"] == 1
    start, end = datetime.fromisoformat(first["start"]), datetime.fromisoformat(first["end"])
    assert start.tzinfo is not None and start == T0.astimezone() and end - start == timedelta(minutes=30)
    assert first["start"] == T0.astimezone().isoformat(timespec="seconds")
    assert first["notes"].startswith("pico #1 (breast pump): standard, 30 min, left 60 mL, right 45 mL. sore")
    assert datetime.fromisoformat(posts[3]["end"]) - datetime.fromisoformat(posts[3]["start"]) == \
        timedelta(minutes=10)
    assert [e["id"] for e in babybuddy.entries] == [101, 102, 103, 104]
    assert _exports(db) == [(BOARD, 1, target, "101", 1, 105.0), (BOARD, 2, target, "102", 1, 90.5),
                            (BOARD, 4, target, "103", 1, 120.0), ("manual", 1, target, "104", 1, 40.0)]
    assert "sent pico #1 (2024-05-01 06:00, 105 mL) as Baby Buddy pumping 101" in out
    assert out.splitlines()[-1] == ("%s: 4 sent, 0 sent before; not sendable: 1 with the time unknown, 2 without "
                                    "a volume (add SEQ --volume-ml X)" % target)

    # twice: nothing new
    code, out, err = _bb(capsys, db, babybuddy)
    assert (code, err) == (0, "") and len(babybuddy.requests) == 4
    assert out.splitlines()[-1].startswith("%s: 0 sent, 4 sent before" % target)
    # a volume entered later: that one session goes; one changed after sending is said, not sent again
    assert run(capsys, "--db", db, "add", 5, "--left-ml", 30, "--right-ml", 35)[0] == 0
    assert run(capsys, "--db", db, "add", 2, "--volume-ml", 95)[0] == 0
    code, out, err = _bb(capsys, db, babybuddy)
    assert code == 0 and len(babybuddy.requests) == 5 and babybuddy.posts()[-1]["amount"] == 65.0
    assert "note: pico #2 has 95 mL now, 90.5 mL when it was sent (Baby Buddy pumping 102)" in err
    assert len(_exports(db)) == 5


def test_dry_run_shows_the_entries_and_sends_and_records_nothing(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    code, out, err = _bb(capsys, db, babybuddy, "--dry-run", token=None)      # no token needed to look
    assert (code, err) == (0, "") and babybuddy.requests == [] and _exports(db) == []
    lines = out.splitlines()
    assert len(lines) == 5 and lines[0].startswith("would send pico #1: {")
    shown = json.loads(lines[0].split(": ", 1)[1])
    assert shown["amount"] == 105.0 and shown["child"] == 1
    assert "4 to send (dry run: nothing sent)" in lines[-1]
    assert _bb(capsys, db, babybuddy)[0] == 0 and len(babybuddy.requests) == 4


def test_a_wrong_token_is_one_line_and_nothing_is_recorded(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    code, out, err = _bb(capsys, db, babybuddy, token="not-the-key")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "Baby Buddy refused the token (HTTP 401: Invalid token.): check --token" in err
    assert len(babybuddy.requests) == 1 and _exports(db) == []                 # stopped at the first
    assert "0 sent, 0 sent before, 1 failed, 3 not tried after the error" in out


def test_field_errors_are_shown_for_that_session_and_the_others_still_go(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    # an entry already in Baby Buddy over session #2's time (entered there by hand)
    babybuddy.entries.append({"child": 1, "_start": (T0 + timedelta(hours=3, minutes=10)).astimezone(),
                              "_end": (T0 + timedelta(hours=3, minutes=20)).astimezone()})
    code, out, err = _bb(capsys, db, babybuddy)
    assert code == 2 and err.count("\n") == 1
    assert err == ("error: pico #2 (2024-05-01 09:00): Baby Buddy refused it (HTTP 400: Another entry intersects "
                   "the specified time period.)\n")
    assert [(b, q) for b, q, *_ in _exports(db)] == [(BOARD, 1), (BOARD, 4), ("manual", 1)]
    code, out, err = _bb(capsys, db, babybuddy)                                # only #2 is tried again
    assert code == 2 and len(babybuddy.requests) == 5 and babybuddy.posts()[-1]["amount"] == 90.5


def test_a_child_baby_buddy_does_not_have_stops_at_the_first_answer(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    code, _, err = _bb(capsys, db, babybuddy, child=9)
    assert code == 2 and err.count("\n") == 1 and len(babybuddy.requests) == 1
    assert "HTTP 400: child: Invalid pk \"9\" - object does not exist." in err


def test_an_error_midway_keeps_what_was_sent_before_it(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    babybuddy.fail_at[3] = (500, {"detail": "A server error occurred."})
    code, out, err = _bb(capsys, db, babybuddy)
    assert code == 2 and err.count("\n") == 1 and "Baby Buddy answered HTTP 500: A server error occurred." in err
    assert [(b, q) for b, q, *_ in _exports(db)] == [(BOARD, 1), (BOARD, 2)]
    assert "2 sent, 0 sent before, 1 failed, 1 not tried after the error" in out
    code, out, err = _bb(capsys, db, babybuddy)
    assert (code, err) == (0, "") and [p["amount"] for p in babybuddy.posts()[3:]] == [120.0, 40.0]
    assert len(_exports(db)) == 4


def test_connection_refused_is_one_line(tmp_path, capsys, monkeypatch):
    db = _history(tmp_path, capsys)
    with socket.socket() as s:                     # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run(capsys, "--db", db, "export", "--babybuddy", "http://127.0.0.1:%d" % port, "--child", 1,
                         "--token", TOKEN)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "cannot reach Baby Buddy at http://127.0.0.1:%d/api/pumping/: Connection refused" % port in err
    assert _exports(db) == []


def test_an_old_baby_buddy_with_a_time_field_is_named(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    babybuddy.legacy = True
    code, _, err = _bb(capsys, db, babybuddy)
    assert code == 2 and err.count("\n") == 1 and len(babybuddy.requests) == 1
    assert "time: This field is required." in err and "older than 2.0" in err


def test_a_redirect_is_not_followed_with_the_post_turned_into_a_get(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    babybuddy.fail_at[1] = (301, {"location": "https://baby.example/api/pumping/"})
    code, _, err = _bb(capsys, db, babybuddy)
    assert code == 2 and err.count("\n") == 1 and len(babybuddy.requests) == 1
    assert "answered HTTP 301 (moved to https://baby.example/api/pumping/): give that address" in err


def test_export_options_are_checked_in_one_line(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    for argv, want in (
            (["--babybuddy", "baby.example", "--child", "1", "--token", "x"], "is not an http(s) address"),
            (["--babybuddy", "ftp://baby.example", "--child", "1", "--token", "x"], "is not an http(s) address"),
            (["--babybuddy", babybuddy.url, "--token", "x"], "give --child ID"),
            (["--babybuddy", babybuddy.url, "--child", "zero", "--token", "x"], "--child zero is not a Baby Buddy"),
            (["--babybuddy", babybuddy.url, "--child", "0", "--token", "x"], "--child 0 is not a Baby Buddy"),
            (["--babybuddy", babybuddy.url, "--child", "1"], "give --token TOKEN (or set BABYBUDDY_TOKEN)"),
            (["--csv", "-", "--child", "1"], "--child is for --babybuddy"),
            (["--csv", "-", "--dry-run"], "--dry-run is for --babybuddy")):
        code, out, err = run(capsys, "--db", db, "export", *argv)
        assert code == 2 and want in err and err.count("\n") == 1 and out == "", (argv, err)
    assert babybuddy.requests == []


def test_the_token_can_come_from_the_environment(tmp_path, capsys, babybuddy, monkeypatch):
    db = _history(tmp_path, capsys)
    monkeypatch.setenv("BABYBUDDY_TOKEN", TOKEN)
    assert _bb(capsys, db, babybuddy, token=None)[0] == 0 and len(babybuddy.requests) == 4


def test_the_baby_buddy_address_is_one_target_however_it_is_written():
    want = "http://192.168.1.20:8000/api/pumping/"
    for url in ("http://192.168.1.20:8000", "http://192.168.1.20:8000/", "http://192.168.1.20:8000/api",
                "http://192.168.1.20:8000/api/pumping/", " HTTP://192.168.1.20:8000/api/pumping "):
        assert export.endpoint(url) == want, url
    assert export.endpoint("https://Home.Example/baby/") == "https://home.example/baby/api/pumping/"


def test_a_target_is_remembered_per_address(tmp_path, capsys, babybuddy):
    db = _history(tmp_path, capsys)
    assert _bb(capsys, db, babybuddy)[0] == 0
    st = Store(str(db))
    try:
        assert len(st.exported(babybuddy.url + "/api/pumping/")) == 4
        assert st.exported("https://other.example/api/pumping/") == {}
    finally:
        st.close()
