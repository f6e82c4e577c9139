"""The survivors of a `make mutants` run as docs/safety.md's table, with the
verdicts an earlier run already gave carried over.

Most survivors of a run are the ones the run before left: the same
mutation of the same code. Judging 160 of them again by hand each run is
where a mistake slips in, so this carries a verdict over when the survivor
is the same mutation (its line before and after, as the table quotes them)
in the same function of the same file, the function found in the source the
earlier run tested (the commit its section names) and in the source now.
Code that moved to another function (an inlined call) is judged again:
what was equivalent inside a method need not be so where it now sits.
The rest are printed with the verdict `?`, to be judged and written in.

    python -m tools.mutants_table [--doc docs/safety.md]

reads out/mutants/report.json (what `make mutants` wrote), prints the
table on stdout and a count on stderr.
"""
import argparse
import json
import os
import re
import subprocess
import sys

from tools import paths

QUOTE = 70                 # the table quotes this much of a line before and after
ROW = re.compile(r"^\| (\w+\.py):(\d+) \| `(.*)` -> `(.*)` \| (\w+) \| (.*) \|$")
COMMIT = re.compile(r"\b(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")


def newest_run(doc):
    """(commit, [(file, line, before, after, verdict, reason)]) of the
    newest "### Mutation run" section of docs/safety.md."""
    parts = doc.split("\n### Mutation run")
    if len(parts) < 2:
        raise ValueError("no '### Mutation run' section")
    section = parts[1].split("\n## ")[0]
    intro = section.split("\n| where |")[0]
    found = COMMIT.search(intro)
    if not found:
        raise ValueError("the newest mutation run does not name the commit it tested")
    rows = []
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            rows.append((m.group(1), int(m.group(2)), unquote(m.group(3)), unquote(m.group(4)), m.group(5),
                         m.group(6)))
    return found.group(0), rows


def unquote(cell):
    return cell.replace("\\|", "|")


def quote(text):
    return text[:QUOTE].replace("|", "\\|")


def enclosing_functions(source):
    """For each line (index 0 = line 1), the def it sits in ("" at module level)."""
    out, current = [], ""
    for line in source.split("\n"):
        m = re.match(r"\s*def (\w+)", line)
        if m:
            current = m.group(1)
        elif re.match(r"\S", line) and not line.startswith(("#", ")", "]", "}")):
            current = ""
        out.append(current)
    return out


def changed_lines(diff):
    """The first line a mutant's diff removes and the first it adds."""
    minus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return (minus[0] if minus else ""), (plus[0] if plus else "")


def carry(survivors, verdicts, old_sources, new_sources):
    """Table rows for `survivors` (report.json's), each with the earlier
    verdict when it is the same mutation in the same function; returns
    (rows, how many are new)."""
    old_funcs = {f: enclosing_functions(src) for f, src in old_sources.items()}
    new_funcs = {f: enclosing_functions(src) for f, src in new_sources.items()}
    known = {}
    for f, line, before, after, verdict, reason in verdicts:
        func = old_funcs[f][line - 1] if f in old_funcs and line <= len(old_funcs[f]) else None
        known.setdefault((f, func, before[:QUOTE], after[:QUOTE]), (verdict, reason))
    rows, new = [], 0
    for s in sorted(survivors, key=lambda s: (s["file"], s["line"], s["diff"] or "")):
        f = os.path.basename(s["file"])
        before, after = changed_lines(s["diff"] or "")
        func = new_funcs[f][s["line"] - 1] if f in new_funcs else None
        verdict, reason = known.get((f, func, before[:QUOTE], after[:QUOTE]), ("?", "new: to be judged"))
        new += verdict == "?"
        rows.append("| %s:%d | `%s` -> `%s` | %s | %s |" % (f, s["line"], quote(before), quote(after), verdict,
                                                           reason))
    return rows, new


def git_show(commit, rel):
    return subprocess.run(["git", "-C", paths.ROOT, "show", "%s:%s" % (commit, rel)], capture_output=True,
                          text=True, check=True).stdout


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.mutants_table")
    ap.add_argument("--doc", default=os.path.join(paths.ROOT, "docs", "safety.md"))
    ap.add_argument("--report", default=os.path.join(paths.ROOT, "out", "mutants", "report.json"))
    args = ap.parse_args(argv)
    with open(args.doc) as f:
        commit, verdicts = newest_run(f.read())
    with open(args.report) as f:
        survivors = json.load(f)["survivors"]
    from tools.mutants import MODULES
    old = {os.path.basename(m): git_show(commit, m) for m in MODULES}
    new = {}
    for m in MODULES:
        with open(os.path.join(paths.ROOT, m)) as f:
            new[os.path.basename(m)] = f.read()
    rows, unjudged = carry(survivors, verdicts, old, new)
    print("| where | mutation | verdict | reason |\n|---|---|---|---|")
    print("\n".join(rows))
    sys.stderr.write("%d survivors: %d carried over from the run of %s, %d to judge (verdict ?)\n"
                     % (len(rows), len(rows) - unjudged, commit, unjudged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
