"""python -m tools.sessions [--db PATH] COMMAND ...

  import FILE [FILE ...]   import the board's log files (sessions.1.log, sessions.log; any order; and the
                           phone's notes.1.log, notes.log: volumes per breast and a note, in that order)
  add SEQ [--board ID] [--volume-ml X] [--left-ml L] [--right-ml R] [--note TEXT]
                           what the pump cannot measure, for session SEQ (volume: the total,
                           or per breast; a total given with the sides must agree)
  add --start YYYY-MM-DDTHH:MM [--duration-min M] [--program P] [--volume-ml X] [--left-ml L]
      [--right-ml R] [--note TEXT]
                           a session pumped without a record (marked manual)
  report [--out DIR] [--days N] [--schedule profiles.json] [--now YYYY-MM-DDTHH:MM]
  plan [--now YYYY-MM-DDTHH:MM] [--schedule profiles.json]
  export --csv FILE        every session as CSV (FILE - for stdout)
  export --babybuddy URL --child ID [--token TOKEN] [--dry-run]
                           the sessions with a time and a volume as Baby Buddy pumping entries,
                           each sent once (token: --token or $BABYBUDDY_TOKEN)

The database is sessions.db in the current folder unless --db says otherwise.
Exit status: 0 done; 1 import skipped some lines or set aside a record
that conflicts with one imported before (every intact record was still
imported); 2 unusable input (a file missing, a bad option or schedule),
or an export that failed (one line each; what was sent before stays recorded).
"""
import argparse
import os
import sys

from tools.sessions import logfile, plan as plan_mod
from tools.sessions.store import MANUAL, MAX_VOLUME_ML, StoreError, VolumeError, combine_volumes, open_store

DEFAULT_DB = "sessions.db"
DEFAULT_OUT = os.path.join("out", "sessions")


class UsageError(Exception):
    pass


def _err(msg):
    print(msg, file=sys.stderr)


# -- import -------------------------------------------------------------------------

def cmd_import(st, args):
    status = 0
    records, problems = [], []
    for path in args.files:
        if not os.path.exists(path):
            _err("%s: no such file" % path)
            status = 2
            continue
        if os.path.isdir(path):
            _err("%s: is a folder, not a log file" % path)
            status = 2
            continue
        try:
            recs, probs = logfile.parse_file(path)
        except OSError as e:
            _err("%s: cannot read it (%s)" % (path, e.strerror or e))
            status = 2
            continue
        records.extend(recs)
        problems.extend(probs)
    for p in problems:
        _err(str(p))
    notes = [r for r in records if r.is_note]
    res = st.import_records([r for r in records if not r.is_note])
    applied, known_notes, refused = st.import_notes(notes)
    for rec, why in refused:
        _err("%s: the phone's note for board %s session %d cannot be stored: %s" % (
            rec.where, rec.data["board"], rec.data["seq"], why))
    for rec, keys in res.conflicts:
        _err("%s: board %s session %d was imported before with different content (%s); the first one is kept, "
             "this one is set aside (if the board's files were erased, its session numbers started again)" % (
                 rec.where, rec.data["board"], rec.data["seq"], ", ".join(keys)))
    line = "%d new, %d already known" % (len(res.new), len(res.known))
    if notes:
        line += "; %d note%s from the phone applied, %d already" % (len(applied), "" if len(applied) == 1 else "s",
                                                                   len(known_notes))
    if problems:
        line += ", %d line%s skipped" % (len(problems), "" if len(problems) == 1 else "s")
    if res.conflicts:
        line += ", %d conflicting" % len(res.conflicts)
    print(line)
    if status == 0 and (problems or res.conflicts or refused):
        status = 1
    return status


# -- add ------------------------------------------------------------------------------

def _resolve_board(st, board):
    known = st.boards()
    if board is None:
        if not known:
            raise UsageError("no board in the history yet: import its log first")
        if len(known) > 1:
            raise UsageError("several boards in the history, give --board: " +
                             ", ".join("%s (%s)" % (b, n) for b, n in known))
        return known[0]
    if board == MANUAL:
        return MANUAL, MANUAL
    exact = [k for k in known if k[0] == board]
    if exact:
        return exact[0]
    for pool in ([k for k in known if k[0].startswith(board)], [k for k in known if k[1] == board]):
        if len(pool) == 1:
            return pool[0]
        if len(pool) > 1:
            raise UsageError("--board %s matches several boards: %s" % (board, ", ".join(b for b, _ in pool)))
    raise UsageError("no board %s in the history (%s)" % (
        board, ", ".join("%s (%s)" % (b, n) for b, n in known) or "none yet: import its log first"))


def _vol(v):
    return "none" if v is None else "%g mL" % v


def _ml_arg(text, opt):
    """An option's volume in mL: a plain number in 0-MAX_VOLUME_ML (no nan, inf)."""
    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        raise UsageError("%s %s is not a number of mL" % (opt, text))
    if v != v or v in (float("inf"), float("-inf")):
        raise UsageError("%s %s is not a number of mL" % (opt, text))
    if not 0 <= v <= MAX_VOLUME_ML:
        raise UsageError("%s %s is outside 0-%d mL" % (opt, text, MAX_VOLUME_ML))
    return v


def _vols_text(vols):
    """ "volume 105 mL (left 60 mL + right 45 mL)" and the like."""
    sides = []
    if vols["left_ml"] is not None:
        sides.append("left %s" % _vol(vols["left_ml"]))
    if vols["right_ml"] is not None:
        sides.append("right %s" % _vol(vols["right_ml"]))
    return "%s%s" % (_vol(vols["volume_ml"]), (" (%s)" % " + ".join(sides)) if sides else "")


def cmd_add(st, args):
    total = _ml_arg(args.volume_ml, "--volume-ml")
    left = _ml_arg(args.left_ml, "--left-ml")
    right = _ml_arg(args.right_ml, "--right-ml")
    given = total is not None or left is not None or right is not None
    if args.start is not None:
        if args.seq is not None or args.board is not None:
            raise UsageError("--start adds a manual session: give it without SEQ and --board")
        try:
            start = plan_mod.parse_now(args.start)
        except ValueError as e:
            raise UsageError("--start: %s" % e)
        if args.duration_min is not None and not 0 <= args.duration_min <= 600:
            raise UsageError("--duration-min %g is outside 0-600" % args.duration_min)
        vols = combine_volumes({}, total, left, right)          # refused before anything is written
        seq = st.add_manual(start, int(round((args.duration_min or 0) * 60)), args.program or MANUAL,
                            total, args.note, left, right)
        print("added manual #%d: %s, %s, %s%s" % (
            seq, start.strftime("%Y-%m-%d %H:%M"), args.program or MANUAL, _vols_text(vols),
            (", note: " + args.note) if args.note else ""))
        return 0
    if args.seq is None:
        raise UsageError("give the session number (SEQ), or --start for a session without a record")
    if args.duration_min is not None or args.program is not None:
        raise UsageError("--duration-min and --program are for a manual session (--start)")
    if not given and args.note is None:
        raise UsageError("nothing to add: give --volume-ml (or --left-ml/--right-ml) and/or --note")
    board, name = _resolve_board(st, args.board)
    label = "manual #%d" % args.seq if board == MANUAL else "%s #%d" % (name or board, args.seq)
    try:
        old, new = st.set_volumes(board, args.seq, total, left, right, args.note, set_note=args.note is not None)
    except VolumeError as e:
        raise UsageError("%s: %s" % (label, e))
    said = []
    if given:
        old_vol = old["volume_ml"]
        said.append("volume %s" % _vols_text(new) + (" (was %s)" % _vol(old_vol) if old_vol is not None
                                                     and old_vol != new["volume_ml"] else ""))
    if args.note is not None:
        said.append("note %r" % args.note if args.note else "note cleared")
    print("%s: %s" % (label, ", ".join(said)))
    if not st.has_session(board, args.seq):
        print("note: session %d of %s is not in the history yet; this is kept and shows once its record is "
              "imported" % (args.seq, name or board))
    return 0


# -- report and plan --------------------------------------------------------------

def _now(args):
    try:
        return plan_mod.parse_now(args.now)
    except ValueError as e:
        raise UsageError("--now: %s" % e)


def _schedule(args):
    try:
        return plan_mod.load_schedule(args.schedule)
    except plan_mod.ScheduleError as e:
        raise UsageError("the schedule cannot be used:\n  " + "\n  ".join(e.errors))


NOTHING_YET = ("nothing to report yet: %s has no sessions; pull the board's logs with `make logs`, or add a "
               "session pumped without the board with `python -m tools.sessions add --start YYYY-MM-DDTHH:MM "
               "--volume-ml X`")


def cmd_report(st, args):
    if args.days < 1 or args.days > 3660:
        raise UsageError("--days %d is outside 1-3660" % args.days)
    sch, now = _schedule(args), _now(args)
    sessions = st.sessions()
    if not sessions:
        # No charts of nothing (matplotlib warns about empty legends): one line, what to do.
        print(NOTHING_YET % st.path)
        return 0
    from tools.sessions.report import Report
    rep = Report(sessions, sch, now, args.days, st.orphan_entries(), st.conflict_count())
    page, pngs = rep.write(args.out)
    print(rep.summary())
    print("wrote %s and %d charts (%s)" % (page, len(pngs), ", ".join(os.path.basename(p)
                                                                     for p in pngs.values())))
    return 0


def cmd_plan(st, args):
    sch, now = _schedule(args), _now(args)
    p = plan_mod.make_plan(st.sessions(), sch, now)
    print(p.text())
    return 0


def cmd_export(st, args):
    from tools.sessions import export
    if args.csv is not None:
        for opt, v in (("--token", args.token), ("--child", args.child)):
            if v is not None:
                raise UsageError("%s is for --babybuddy, not --csv" % opt)
        if args.dry_run:
            raise UsageError("--dry-run is for --babybuddy (--csv - shows the CSV without writing a file)")
        try:
            n = export.write_csv(st.sessions(), args.csv)
        except export.ExportError as e:
            raise UsageError(str(e))
        if args.csv != "-":
            print("wrote %s (%d session%s)" % (args.csv, n, "" if n == 1 else "s"))
        return 0
    try:
        target = export.endpoint(args.babybuddy)
    except export.ExportError as e:
        raise UsageError(str(e))
    if args.child is None:
        raise UsageError("give --child ID: the Baby Buddy child the pumping entries belong to (its number in "
                         "/api/children/)")
    try:
        child = int(args.child)
    except ValueError:
        child = 0
    if child < 1 or str(child) != args.child.strip():
        raise UsageError("--child %s is not a Baby Buddy child id (a whole number from 1)" % args.child)
    token = args.token if args.token is not None else os.environ.get("BABYBUDDY_TOKEN")
    if not token and not args.dry_run:
        raise UsageError("give --token TOKEN (or set BABYBUDDY_TOKEN): the API key on Baby Buddy's User "
                         "Settings page")
    return export.to_babybuddy(st, target, child, token, dry_run=args.dry_run, out=print, err=_err)


def parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, help="the database (default %s)" % DEFAULT_DB)
    ap = argparse.ArgumentParser(prog="python -m tools.sessions", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--db", default=DEFAULT_DB, help="the database (default %s)" % DEFAULT_DB)
    sub = ap.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import", parents=[common], help="import the board's log files")
    imp.add_argument("files", nargs="+", metavar="FILE")
    add = sub.add_parser("add", parents=[common], help="volume and notes; a manual session")
    add.add_argument("seq", nargs="?", type=int, metavar="SEQ")
    add.add_argument("--board")
    add.add_argument("--volume-ml", metavar="X", help="the session's total, 0-%d mL" % MAX_VOLUME_ML)
    add.add_argument("--left-ml", metavar="L", help="left breast, 0-%d mL" % MAX_VOLUME_ML)
    add.add_argument("--right-ml", metavar="R", help="right breast, 0-%d mL" % MAX_VOLUME_ML)
    add.add_argument("--note")
    add.add_argument("--start", help="a manual session's start, YYYY-MM-DDTHH:MM")
    add.add_argument("--duration-min", type=float)
    add.add_argument("--program")
    rep = sub.add_parser("report", parents=[common], help="HTML + PNG charts + a terminal summary")
    rep.add_argument("--out", default=DEFAULT_OUT)
    rep.add_argument("--days", type=int, default=14)
    rep.add_argument("--schedule", metavar="PROFILES_JSON")
    rep.add_argument("--now")
    pl = sub.add_parser("plan", parents=[common], help="what to do now, with reasons")
    pl.add_argument("--now")
    pl.add_argument("--schedule", metavar="PROFILES_JSON")
    ex = sub.add_parser("export", parents=[common], help="CSV, or pumping entries in Baby Buddy")
    where = ex.add_mutually_exclusive_group(required=True)
    where.add_argument("--csv", metavar="FILE", help="write every session as CSV (- for stdout)")
    where.add_argument("--babybuddy", metavar="URL", help="Baby Buddy's address, e.g. https://baby.example")
    ex.add_argument("--token", help="Baby Buddy API key (default: $BABYBUDDY_TOKEN)")
    ex.add_argument("--child", metavar="ID", help="the Baby Buddy child id")
    ex.add_argument("--dry-run", action="store_true", help="show what would be sent, send nothing")
    return ap


COMMANDS = {"import": cmd_import, "add": cmd_add, "report": cmd_report, "plan": cmd_plan, "export": cmd_export}


def main(argv=None):
    args = parser().parse_args(argv)
    if args.cmd in ("report", "plan", "export") and not os.path.exists(args.db):
        _err("error: no history at %s: import the board's log first (make logs, or python -m "
             "tools.sessions import out/board-logs/sessions.log), or name the database with --db" % args.db)
        return 2
    if args.cmd == "add" and args.start is None and not os.path.exists(args.db):
        _err("error: no history at %s yet: import the board's log first (make logs), or add a session pumped "
             "without a record with --start" % args.db)
        return 2
    new = not os.path.exists(args.db)
    try:
        st = open_store(args.db)
    except StoreError as e:
        _err("error: %s" % e)
        return 2
    status = 2
    try:
        status = COMMANDS[args.cmd](st, args)
        return status
    except UsageError as e:
        _err("error: %s" % e)
        return 2
    except StoreError as e:
        _err("error: %s" % e)
        return 2
    finally:
        st.close()
        if new and status == 2:
            # Nothing was added: leave no database behind (a half-made one
            # would look like a history).
            for suffix in ("", "-journal", "-wal", "-shm"):
                try:
                    os.remove(args.db + suffix)
                except OSError:
                    pass


if __name__ == "__main__":
    sys.exit(main())
