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
