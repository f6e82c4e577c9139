"""tools/mutants_table.py: an earlier mutation run's verdict carries over
only to the same mutation in the same function; everything else is left
to be judged, and the table it prints parses back to what it carried."""
import os

import pytest

from tools import mutants_table as T
from tools import paths

OLD = """X = 1


class Session:
    def tick(self, dt):
        if dt > 0:
            self.t += dt
        out.seq = (out.seq + 1) & 0x3FFFFFFF

    def _refresh(self):
        self.dirty = False
"""
# The same code two lines lower, and _refresh's line inlined into tick().
NEW = """X = 1
Y = 2
Z = 3


class Session:
    def tick(self, dt):
        if dt > 0:
            self.t += dt
        out.seq = (out.seq + 1) & 0x3FFFFFFF
        self.dirty = False
"""

DOC = """# Safety

### Mutation run (2026-12-09, the new code)

On commit 1234abc.

| where | mutation | verdict | reason |
|---|---|---|---|
| session.py:6 | `if dt > 0:` -> `if dt >= 0:` | equivalent | dt == 0 adds nothing |
| session.py:8 | `out.seq = (out.seq + 1) & 0x3FFFFFFF` -> `out.seq = (out.seq + 1) \\| 0x3FFFFFFF` | killed | killed by a test |
| session.py:11 | `self.dirty = False` -> `self.dirty = True` | harmless | a refresh flag |

### Mutation run (2026-12-01, older)

On commit 9999fff.

| where | mutation | verdict | reason |
|---|---|---|---|
| session.py:6 | `if dt > 0:` -> `if dt > 1:` | harmless | an older verdict |
"""


def survivor(line, before, after):
    return {"file": "firmware/pump/session.py", "line": line, "operator": "op", "occurrence": 0, "job": "j",
            "diff": "--- a\n+++ b\n@@ -1 +1 @@\n-        %s\n+        %s\n" % (before, after)}


def test_the_newest_run_is_read_with_its_commit_and_escaped_pipes():
    commit, rows = T.newest_run(DOC)
    assert commit == "1234abc"
    assert [r[:2] for r in rows] == [("session.py", 6), ("session.py", 8), ("session.py", 11)]
    assert rows[1][3] == "out.seq = (out.seq + 1) | 0x3FFFFFFF" and rows[1][4] == "killed"
    with pytest.raises(ValueError, match="commit"):
        T.newest_run(DOC.replace("On commit 1234abc.", "On the code of then."))


def test_a_verdict_carries_over_only_to_the_same_mutation_in_the_same_function():
    _, verdicts = T.newest_run(DOC)
    survivors = [survivor(8, "if dt > 0:", "if dt >= 0:"),                      # moved 2 lines: carried
                 survivor(10, "out.seq = (out.seq + 1) & 0x3FFFFFFF", "out.seq = (out.seq + 1) | 0x3FFFFFFF"),
                 survivor(11, "self.dirty = False", "self.dirty = True"),        # now inside tick(): judged again
                 survivor(8, "if dt > 0:", "if dt > 1:")]                        # only the older run judged it
    rows, unjudged = T.carry(survivors, verdicts, {"session.py": OLD}, {"session.py": NEW})
    assert unjudged == 2
    assert rows[0].endswith("| ? | new: to be judged |") and "`if dt > 1:`" in rows[0]     # rows by line, then diff
    assert rows[1] == "| session.py:8 | `if dt > 0:` -> `if dt >= 0:` | equivalent | dt == 0 adds nothing |"
    assert rows[2] == ("| session.py:10 | `out.seq = (out.seq + 1) & 0x3FFFFFFF` -> "
                       "`out.seq = (out.seq + 1) \\| 0x3FFFFFFF` | killed | killed by a test |")
    assert rows[3].startswith("| session.py:11 | `self.dirty = False`") and rows[3].endswith("| ? | new: to be judged |")
    # What it prints reads back as it was carried (the next run's input);
    # a row still marked ? is not a verdict.
    again = T.newest_run("# Safety\n\n### Mutation run\n\ncommit 5678def\n\n| where |\n" + "\n".join(rows))[1]
    assert [r[4] for r in again] == ["equivalent", "killed"]
    assert again[1][3] == "out.seq = (out.seq + 1) | 0x3FFFFFFF"


def test_the_docs_newest_run_names_its_commit_and_judges_every_survivor():
    with open(os.path.join(paths.ROOT, "docs", "safety.md")) as f:
        commit, rows = T.newest_run(f.read())
    assert len(commit) >= 7 and len(rows) > 100
    assert {r[4] for r in rows} <= {"killed", "equivalent", "harmless"}
