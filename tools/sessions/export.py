"""The history out of this tool: a CSV file, and pumping entries in Baby
Buddy (https://github.com/babybuddy/babybuddy), sent through its REST API.

CSV (`export --csv FILE`): one row per session, in time order (sessions
whose time is unknown last), with the header row CSV_COLUMNS; written to
a temporary file in the same folder and renamed over FILE, so FILE is
either the old one or the whole new one, never half written.

Baby Buddy (`export --babybuddy URL --child ID --token TOKEN`): each
session with a known time and a volume becomes one POST to
URL/api/pumping/ with `Authorization: Token TOKEN` and a JSON body, the
fields of Baby Buddy 2.x's Pumping (api/serializers.py PumpingSerializer,
openapi-schema.yml `Pumping`; `start`/`end` replaced 1.x's single `time`
in core migration 0029):

    child   int     --child
    amount  number  the session's volume in mL (Baby Buddy keeps no unit)
    start   str     ISO 8601 with this computer's UTC offset
    end     str     start + the session's duration
    notes   str     session, program, duration, left/right, the note

What was sent is kept in the `exports` table (board, seq, target URL, the
id Baby Buddy returned), written as each entry is accepted: exporting again
sends only what was not sent yet, and an error leaves what was sent before
it recorded.
"""
import csv
import http.client
import json
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

CSV_COLUMNS = ("board", "seq", "label", "start", "time_source", "duration_min", "program", "end",
               "peak_expression_mmhg", "peak_stimulation_mmhg", "faults", "left_ml", "right_ml", "volume_ml",
               "note")
BABYBUDDY_PATH = "/api/pumping/"
TIMEOUT_S = 30
LOOPBACK = ("localhost", "127.0.0.1", "::1")


class ExportError(Exception):
    """One line saying what went wrong."""


def _num(v):
    return "" if v is None else "%g" % v


def _in_time_order(sessions):
    known = sorted((s for s in sessions if s.when is not None), key=lambda s: (s.when, s.board, s.seq))
    unknown = sorted((s for s in sessions if s.when is None), key=lambda s: (s.board, s.seq))
    return known + unknown


# -- CSV ------------------------------------------------------------------------------

def csv_row(s):
    """The CSV_COLUMNS of one Session, as text."""
    peaks = (s.record or {}).get("peak_mmhg") or {}
    return {
        "board": s.board,
        "seq": str(s.seq),
        "label": s.label,
        "start": s.when.isoformat() if s.when is not None else "",
        "time_source": s.when_from or "unknown",
        "duration_min": "%.1f" % (s.duration_s / 60.0),
        "program": s.program,
        "end": s.end or "",
        "peak_expression_mmhg": _num(peaks.get("expression")) if s.record else "",
        "peak_stimulation_mmhg": _num(peaks.get("stimulation")) if s.record else "",
        "faults": ";".join(s.faults),
        "left_ml": _num(s.left_ml),
        "right_ml": _num(s.right_ml),
        "volume_ml": _num(s.volume_ml),
        "note": s.note or "",
    }


def _write_rows(f, sessions):
    w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
    w.writeheader()
    n = 0
    for s in _in_time_order(sessions):
        w.writerow(csv_row(s))
        n += 1
    return n


def _new_file_mode(path):
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_csv(sessions, path):
    """Write the sessions as CSV to `path` ("-": stdout). Returns the
    number of rows. Raises ExportError; `path` is then as it was."""
    if path == "-":
        return _write_rows(sys.stdout, sessions)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ExportError("%s is a folder: name the CSV file to write" % path)
    if not os.path.isdir(folder):
        raise ExportError("no folder %s for %s" % (folder, path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    except OSError as e:
        raise ExportError("cannot write in %s (%s)" % (folder, e.strerror or e))
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            n = _write_rows(f, sessions)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise ExportError("cannot write %s (%s); it is unchanged" % (path, e.strerror or e))
    except BaseException:
        _remove(tmp)
        raise
    return n


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


# -- Baby Buddy -----------------------------------------------------------------------

def endpoint(url):
    """The pumping endpoint for a Baby Buddy address: https://host[/prefix]
    (or that with /api or /api/pumping/ after it) -> https://host[/prefix]/api/pumping/.
    It is also the export target's key in the `exports` table."""
    text = (url or "").strip()
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExportError("--babybuddy %s is not an http(s) address, e.g. https://baby.example or "
                          "http://192.168.1.20:8000" % (url,))
    try:
        port = parts.port
    except ValueError:
        raise ExportError("--babybuddy %s: the port is not a number in 0-65535" % url)
    path = parts.path.rstrip("/")
    for tail in ("/api/pumping", "/api"):
        if path.endswith(tail):
            path = path[:-len(tail)]
            break
    host = "[%s]" % parts.hostname if ":" in parts.hostname else parts.hostname
    netloc = host + (":%d" % port if port is not None else "")
    return "%s://%s%s%s" % (parts.scheme, netloc, path, BABYBUDDY_PATH)


def _aware(t):
    """A naive local datetime as ISO 8601 with this computer's UTC offset."""
    return t.astimezone().isoformat(timespec="seconds")


def pumping_entry(s, child):
    """The JSON body Baby Buddy's POST /api/pumping/ takes for a session."""
    end = s.when + timedelta(seconds=s.duration_s)
    notes = "%s (breast pump): %s, %d min%s" % (s.label, s.program, round(s.duration_s / 60.0),
                                                " or more (end not seen)" if s.duration_at_least else "")
    sides = [("left %g mL" % s.left_ml) if s.left_ml is not None else None,
             ("right %g mL" % s.right_ml) if s.right_ml is not None else None]
    if any(sides):
        notes += ", " + ", ".join(x for x in sides if x)
    if s.note:
        notes += ". " + s.note
    return {"child": child, "amount": float(s.volume_ml), "start": _aware(s.when), "end": _aware(end),
            "notes": notes}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET: let it be an HTTPError."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener():
    return urllib.request.build_opener(_NoRedirect)


class _Refused(Exception):
    """An answer that is not a created entry: (message, stop everything?)."""

    def __init__(self, message, stop=True):
        Exception.__init__(self, message)
        self.stop = stop


def _detail(body):
    """The text of a DRF error body: {"detail": "..."} or {"field": ["msg", ...], ...}."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        text = " ".join(body.decode("utf-8", "replace").split())
        return text[:120] if text else ""
    if isinstance(data, dict):
        if set(data) == {"detail"}:
            return str(data["detail"])
        parts = []
        for k, v in data.items():
            msgs = v if isinstance(v, list) else [v]
            msg = " ".join(str(m) for m in msgs)
            parts.append(msg if k == "non_field_errors" else "%s: %s" % (k, msg))
        return "; ".join(parts)
    if isinstance(data, list):
        return " ".join(str(m) for m in data)
    return str(data)


def post(opener, target, token, body):
    """POST one entry. Returns Baby Buddy's id for it; raises _Refused."""
    req = urllib.request.Request(target, data=json.dumps(body).encode("utf-8"), method="POST", headers={
        "Authorization": "Token " + token, "Content-Type": "application/json", "Accept": "application/json",
        "User-Agent": "open-breast-pump-sessions/1"})
    try:
        with opener.open(req, timeout=TIMEOUT_S) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        try:
            raw = e.read()
        except (OSError, http.client.HTTPException):
            raw = b""
        raise _refusal(e.code, raw, e.headers, target)
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise _Refused("no answer from %s within %d s (the last entry may have arrived: look in Baby Buddy "
                           "before exporting again)" % (target, TIMEOUT_S))
        why = getattr(reason, "strerror", None) or str(reason)
        raise _Refused("cannot reach Baby Buddy at %s: %s" % (target, why))
    except (socket.timeout, TimeoutError):
        raise _Refused("no answer from %s within %d s (the last entry may have arrived: look in Baby Buddy "
                       "before exporting again)" % (target, TIMEOUT_S))
    except (http.client.HTTPException, OSError) as e:
        raise _Refused("the connection to %s failed: %s" % (target, getattr(e, "strerror", None) or e or
                                                             type(e).__name__))
    try:
        data = json.loads(raw.decode("utf-8"))
        rid = data["id"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise _Refused("%s answered HTTP %d without an entry id: is it Baby Buddy's API?" % (target, status))
    if status not in (200, 201) or isinstance(rid, bool) or not isinstance(rid, (int, str)):
        raise _Refused("%s answered HTTP %d, not a created entry: is it Baby Buddy's API?" % (target, status))
    return rid


def _refusal(code, raw, headers, target):
    detail = _detail(raw)
    if code == 400:
        try:
            keys = set(json.loads(raw.decode("utf-8")))
        except (ValueError, UnicodeDecodeError, TypeError):
            keys = set()
        if "time" in keys:
            return _Refused("Baby Buddy refused the entry (HTTP 400: %s): this Baby Buddy is older than 2.0 "
                            "(its pumping entries have `time`, not `start`/`end`); update it" % detail)
        # a wrong child is wrong for every entry: stop; any other field is this entry's
        return _Refused("Baby Buddy refused it (HTTP 400: %s)" % (detail or "no reason given"),
                        stop="child" in keys)
    if code in (401, 403):
        return _Refused("Baby Buddy refused the token (HTTP %d%s): check --token, the API key on Baby Buddy's "
                        "User Settings page" % (code, (": " + detail) if detail else ""))
    if code == 404:
        return _Refused("no Baby Buddy pumping API at %s (HTTP 404): check --babybuddy" % target)
    if code in (301, 302, 303, 307, 308):
        where = headers.get("Location") if headers else None
        return _Refused("%s answered HTTP %d (moved%s): give that address with --babybuddy" % (
            target, code, (" to " + where) if where else ""))
    return _Refused("Baby Buddy answered HTTP %d%s" % (code, (": " + detail) if detail else ""))


def to_babybuddy(st, target, child, token, dry_run=False, out=print, err=print, opener=None):
    """Send the sessions not yet sent to `target`. Returns the exit status:
    0 all sent (or nothing to send), 2 an error (one line each on err)."""
    if urllib.parse.urlsplit(target).scheme == "http" and urllib.parse.urlsplit(target).hostname not in LOOPBACK:
        err("note: the API key goes to %s over plain http; Baby Buddy's docs ask for https outside a "
            "trusted network" % urllib.parse.urlsplit(target).hostname)
    sessions = _in_time_order(st.sessions())
    sent_before = st.exported(target)
    no_time = [s for s in sessions if s.when is None]
    no_volume = [s for s in sessions if s.when is not None and s.volume_ml is None]
    todo, known = [], 0
    for s in sessions:
        if s.when is None or s.volume_ml is None:
            continue
        before = sent_before.get((s.board, s.seq))
        if before is None:
            todo.append(s)
            continue
        known += 1
        if before["amount"] is not None and abs(before["amount"] - s.volume_ml) > 0.01:
            err("note: %s has %g mL now, %g mL when it was sent (Baby Buddy pumping %s): change it there; "
                "it is not sent again" % (s.label, s.volume_ml, before["amount"], before["remote_id"]))
    opener = opener or _opener()
    sent, failed, status = 0, 0, 0
    for s in todo:
        body = pumping_entry(s, child)
        if dry_run:
            out("would send %s: %s" % (s.label, json.dumps(body, ensure_ascii=False)))
            continue
        try:
            rid = post(opener, target, token, body)
        except _Refused as e:
            err("error: %s (%s): %s" % (s.label, s.when.strftime("%Y-%m-%d %H:%M"), e))
            status, failed = 2, failed + 1
            if e.stop:
                break
            continue
        st.record_export(s.board, s.seq, target, rid, child, body["amount"])
        sent += 1
        out("sent %s (%s, %g mL) as Baby Buddy pumping %s" % (s.label, s.when.strftime("%Y-%m-%d %H:%M"),
                                                              s.volume_ml, rid))
    skipped = []
    if no_time:
        skipped.append("%d with the time unknown" % len(no_time))
    if no_volume:
        skipped.append("%d without a volume (add SEQ --volume-ml X)" % len(no_volume))
    line = "%s: %d %s, %d sent before" % (
        target, len(todo) if dry_run else sent, "to send (dry run: nothing sent)" if dry_run else "sent", known)
    if failed:
        line += ", %d failed" % failed
    if not dry_run and sent + failed < len(todo):
        line += ", %d not tried after the error" % (len(todo) - sent - failed)
    if skipped:
        line += "; not sendable: " + ", ".join(skipped)
    out(line)
    return status
