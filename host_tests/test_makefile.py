"""make's first step: the Python version (tools/check_python.py), and a
.venv made by another interpreter is rebuilt, not patched. Checked with a
stand-in interpreter that reports another version; nothing here touches
the real .venv (`make -n` only prints what it would do)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = '''"""A Python that says it is version %s."""
import runpy
import sys

sys.version_info = (%d, %d, 9, "final", 0)
args = sys.argv[1:]
if args[:1] == ["-c"]:
    sys.argv = ["-c"] + args[2:]
    exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
else:
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")
'''


def fake_python(tmp_path, version):
    major, minor = (int(x) for x in version.split("."))
    (tmp_path / "fake.py").write_text(FAKE % (version, major, minor))
    exe = tmp_path / ("python" + version)
    exe.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (sys.executable, tmp_path / "fake.py"))
    exe.chmod(0o755)
    return str(exe)


def test_an_old_python_is_refused_in_one_line_naming_the_version_that_works(tmp_path):
    py = fake_python(tmp_path, "3.10")
    r = subprocess.run(["make", "-s", "-n", ".venv/.installed", "PYTHON=" + py], capture_output=True, text=True,
                       cwd=ROOT)
    assert "tools/check_python.py" in r.stdout.splitlines()[1]              # the check comes first
    r = subprocess.run([py, os.path.join(ROOT, "tools", "check_python.py")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("make: Python 3.10.9 ") and "works with Python 3.11" in r.stderr


def test_the_tested_python_passes_and_a_newer_one_is_warned_about(tmp_path):
    r = subprocess.run([fake_python(tmp_path, "3.11"), os.path.join(ROOT, "tools", "check_python.py")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""
    r = subprocess.run([fake_python(tmp_path, "3.13"), os.path.join(ROOT, "tools", "check_python.py")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.startswith("make: warning: Python 3.13.9 ") and "untested" in r.stderr


def test_a_venv_made_by_another_python_is_rebuilt(tmp_path):
    """A .venv whose python says 3.10 (a first try with the wrong Python):
    make schedules the install again, and its recipe removes the .venv first."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    os.symlink(fake_python(tmp_path, "3.10"), str(venv / "bin" / "python"))
    (venv / ".installed").write_text("")
    os.utime(str(venv / ".installed"), (4e9, 4e9))                        # newer than requirements.txt
    r = subprocess.run(["make", "-n", str(venv / ".installed"), "VENV=" + str(venv), "PYTHON=" + sys.executable],
                       capture_output=True, text=True, cwd=ROOT)
    assert "rm -rf " + str(venv) in r.stdout and "-m venv " + str(venv) in r.stdout, r.stdout + r.stderr
    # The same interpreter: nothing to do.
    os.remove(str(venv / "bin" / "python"))
    os.symlink(sys.executable, str(venv / "bin" / "python"))
    r = subprocess.run(["make", "-n", str(venv / ".installed"), "VENV=" + str(venv), "PYTHON=" + sys.executable],
                       capture_output=True, text=True, cwd=ROOT)
    assert "is up to date" in r.stdout + r.stderr, r.stdout


# -- make help ------------------------------------------------------------------------------
INTERNAL_TARGETS = {"FORCE"}          # make's own plumbing, not for people


def makefile_targets():
    """Every target the Makefile names: in .PHONY lines and as rule names
    (not the file targets spelled with variables, e.g. $(STAMP))."""
    import re
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    names = set()
    for line in text.splitlines():
        m = re.match(r"^\.PHONY\s*:(.*)$", line)
        if m:
            names.update(m.group(1).split())
            continue
        m = re.match(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*(?:\s+[A-Za-z0-9_][A-Za-z0-9_.-]*)*)\s*:(?![=:])", line)
        if m:
            names.update(m.group(1).split())
    return names - INTERNAL_TARGETS


def test_make_help_lists_every_target():
    import re
    targets = makefile_targets()
    assert {"help", "test", "sim", "board", "press", "report", "plan", "mutants", "venv"} <= targets
    r = subprocess.run(["make", "-s", "help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    missing = sorted(t for t in targets
                     if t != "help" and not re.search(r"\bmake %s(?![\w-])" % re.escape(t), r.stdout))
    assert missing == [], "make help does not list: %s" % ", ".join(missing)
    # The session history's commands that have no target of their own.
    assert "python -m tools.sessions add" in r.stdout and "python -m tools.sessions export" in r.stdout


def test_report_and_plan_pass_db_now_and_schedule_when_given():
    def dry(*args):
        r = subprocess.run(["make", "-s", "-n"] + list(args), capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        return [" ".join(ln.split()) for ln in r.stdout.splitlines() if "-m tools.sessions" in ln]
    assert dry("report") == [".venv/bin/python -m tools.sessions report"]
    assert dry("plan", "DB=other.db", "NOW=2026-12-01T08:00", "SCHEDULE=my.json") == [
        '.venv/bin/python -m tools.sessions plan --db other.db --now "2026-12-01T08:00" --schedule my.json']
    assert dry("report", "DB=other.db") == [".venv/bin/python -m tools.sessions report --db other.db"]
    r = subprocess.run(["make", "-s", "plan", "DB=" + os.path.join(ROOT, "out", "no-such-history.db")],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode != 0 and r.stderr.startswith("error: no history at "), r.stderr


def test_make_press_passes_the_button_long_and_port():
    r = subprocess.run(["make", "-s", "-n", "press", "BUTTON=start", "LONG=1", "PORT=7778"], capture_output=True,
                       text=True, cwd=ROOT)
    cmd = " ".join(r.stdout.replace("\\\n", " ").split())
    assert "-m tools.vboard press start --long --dir out --port 7778" in cmd, r.stdout
    r = subprocess.run(["make", "-s", "-n", "press", "BUTTON=level_up"], capture_output=True, text=True, cwd=ROOT)
    cmd = " ".join(r.stdout.replace("\\\n", " ").split())
    assert "-m tools.vboard press level_up --dir out" in cmd and "--long" not in cmd and "--port" not in cmd


def test_the_readme_editor_settings_name_the_stub_folders_make_installs():
    import json
    import re
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = " ".join(f.read().split())
    with open(os.path.join(ROOT, "Makefile")) as f:
        makefile = f.read()
    for port in ("rp2", "esp32"):
        assert "--target .stubs/%s" % port in makefile
        with open(os.path.join(ROOT, "typecheck", port + ".json")) as f:
            cfg = json.load(f)
        assert os.path.normpath(os.path.join("typecheck", cfg["stubPath"])) == ".stubs/" + port
        assert "`.stubs/%s`" % port in readme
    assert re.search(r'"python\.analysis\.stubPath": "\.stubs/rp2"', readme)
    assert re.search(r'"python\.analysis\.typeshedPaths": \[ ?"\.stubs/rp2" ?\]', readme)
    assert re.search(r'"python\.analysis\.extraPaths": \[ ?"firmware" ?\]', readme)
    assert "pyright -p typecheck/rp2.json" in readme and not os.path.exists(os.path.join(ROOT, "pyrightconfig.json"))
