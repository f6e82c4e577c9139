"""The docs point at things that exist.

A maintainer or builder has only the repository: every relative link in
README.md and docs/*.md must reach a file of it (and its `#anchor` a
heading there, slugged as GitHub does), every backticked repository path
(`firmware/pump/limits.py`, `boards/pico.json`, `tools/sim/`) must exist,
and a `file.py::name` must name a function or check in that file. No file
of the repository may send the reader to the team's notes outside it: what
they held is in docs/design.md, docs/pump-figures.md and docs/sensors.md.

What is not checked: links with a scheme (https:, mailto:), placeholders
(`path/to/file.uf2`, `...`), absolute paths (`/dev/ttyACM0`), and anything
under `out/` or `build/` (made by commands, not shipped).
"""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))

# Extensions a backticked token must end in to count as a file path (when its
# first folder is not one of the repository's own).
EXTENSIONS = ("py", "mjs", "js", "json", "md", "txt", "ini", "csv", "png", "log", "html", "toml", "cfg",
              "sh", "uf2", "bin", "img", "db", "lock")
GENERATED = ("out/", "build/")
PLACEHOLDER = re.compile(r"\.\.\.|path/to/|[<>{}*$]|^my[_.]|/N\b")
# Where a backticked path may be relative to: the repository, the doc's own
# folder, the board's flash root (docs name firmware modules as the board
# imports them, `pump/safety.py`) and the host tests (`test_app.py::...`).
BASES = ("", None, "firmware", "host_tests")

# The team's notes that live outside the repository. The names are built
# here so that this file does not match itself.
NOTE_NAMES = tuple(n.upper() for n in ("design", "domain", "sensors", "style"))
NOTE_REF = re.compile(r"\b(?:%s)(?:\.md\b|'s\b|\b(?!\s*[=(\[]))" % "|".join(NOTE_NAMES))
# The shared folder beside the clone (or the team's absolute one) as a place
# to read. The only
# legitimate use is the default location of two build inputs of the emulated
# RP2040 (Makefile, tools/rp2040/chip.py): the MicroPython UF2 and the boot
# ROM, never in a doc (docs say what to download and where to put it).
SHARED_REF = re.compile(r"(?:\.\./|/work/)shared\b(?:/[\w./-]*)?")
SHARED_BUILD_INPUT = re.compile(r"\.\./shared/rp2040/[\w.-]+\.(?:uf2|bin)$")
SKIP_DIRS = {".git", ".venv", "node_modules", "out", "build", ".stubs", "__pycache__", ".pytest_cache",
             ".hypothesis"}


# --------------------------------------------------------------------------- reading markdown

FENCE = re.compile(r"^\s*(```|~~~)")


def split_fences(text):
    """(prose lines, fenced lines) of a markdown text, each as (line number, text)."""
    prose, fenced, inside = [], [], None
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m and (inside is None or m.group(1) == inside):
            inside = None if inside else m.group(1)
            continue
        (fenced if inside else prose).append((n, line))
    return prose, fenced


def code_spans(line):
    return re.findall(r"(`+)(.+?)\1", line)


def without_code(line):
    return re.sub(r"(`+).+?\1", "", line)


def links(text):
    """(line, target) of every inline markdown link outside code."""
    prose, _ = split_fences(text)
    out = []
    for n, line in prose:
        for m in re.finditer(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)",
                             without_code(line)):
            out.append((n, m.group(1)))
    return out


def slug(heading):
    """GitHub's anchor for a heading: the rendered text, lower case, with
    everything but letters, digits, spaces, '-' and '_' dropped and spaces
    turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)      # links keep their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(text):
    """Every anchor the headings of a markdown text make (repeats get -1, -2 ...)."""
    prose, _ = split_fences(text)
    seen, out = {}, set()
    for _, line in prose:
        m = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        s = slug(m.group(1))
        if s in seen:
            seen[s] += 1
            s = "%s-%d" % (s, seen[s])
        else:
            seen[s] = 0
        out.add(s)
    return out


def top_folders():
    """The repository's own top-level folders (tracked files in them), not
    what a machine has made (.venv, out, node_modules)."""
    files = repo_files()
    return {f.split("/", 1)[0] for f in files if "/" in f} - SKIP_DIRS


def path_tokens(text):
    """(line, token) of the backticked things in prose that name a file of
    the repository: a token with a '/' whose first folder is one of the
    repository's or which ends in a known extension. Commands are split into
    words (`make sim SCENARIO=tools/scenarios/power.json` checks the
    scenario); `file.py::name` keeps its file part."""
    prose, _ = split_fences(text)
    folders = top_folders()
    out = []
    for n, line in prose:
        for _, span in code_spans(line):
            for word in span.split():
                word = word.split("=", 1)[1] if re.match(r"^[A-Za-z_][\w-]*=", word) else word
                word = word.split("::", 1)[0]
                word = word.strip("\"'(),;:.[]")
                if "/" not in word or "://" in word or word.startswith(("/", "~", "-")):
                    continue
                if PLACEHOLDER.search(word) or word.startswith(GENERATED) or word.startswith("../"):
                    continue
                first = word.split("/", 1)[0]
                ext = word.rsplit(".", 1)[1] if "." in word.rsplit("/", 1)[-1] else ""
                if first in folders or ext in EXTENSIONS:
                    out.append((n, word))
    return out


def function_refs(text):
    """(line, file, name) of every backticked `file.py::name`."""
    prose, _ = split_fences(text)
    out = []
    for n, line in prose:
        for _, span in code_spans(line):
            for m in re.finditer(r"(?<![\w/.-])([\w/.-]+\.py)::([A-Za-z_]\w*)", span):
                out.append((n, m.group(1), m.group(2)))
    return out


def resolve(token, doc):
    """The existing file or folder a repository path names, or None."""
    for base in BASES:
        base = os.path.dirname(doc) if base is None else base
        p = os.path.normpath(os.path.join(ROOT, base, token.split("#", 1)[0]))
        if os.path.exists(p) and (p == ROOT or p.startswith(ROOT + os.sep)):
            return p
    return None


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


# --------------------------------------------------------------------------- the repository's text files

def repo_files():
    """The repository's files: tracked by git, plus new files not ignored
    (a file about to be added is checked before it is committed). Without
    git (an unpacked archive) every file outside the made folders."""
    try:
        r = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True)
        files = [f for f in r.stdout.decode("utf-8", "replace").split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
            files += [os.path.relpath(os.path.join(d, x), ROOT) for x in names]
    return sorted({f for f in files if os.path.isfile(os.path.join(ROOT, f))})


def text_files():
    for rel in repo_files():
        with open(os.path.join(ROOT, rel), "rb") as f:
            data = f.read(2_000_000)
        if b"\0" in data[:8192]:
            continue
        try:
            yield rel, data.decode("utf-8")
        except UnicodeDecodeError:
            continue


def note_refs(text):
    """(line, what) of every place a text sends the reader to the team's notes."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        out += [(n, m.group(0)) for m in NOTE_REF.finditer(line)]
        for m in SHARED_REF.finditer(line):
            out.append((n, m.group(0)))
    return out


# --------------------------------------------------------------------------- the checks

@pytest.mark.parametrize("doc", DOCS)
def test_links_reach_files_and_headings(doc):
    text = read(doc)
    bad = []
    for n, target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):           # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        if path:
            found = os.path.normpath(os.path.join(ROOT, os.path.dirname(doc), path))
            if not os.path.exists(found):
                bad.append("%s:%d: %s: no such file" % (doc, n, target))
                continue
        else:
            found = os.path.join(ROOT, doc)
        if anchor and found.endswith(".md"):
            with open(found, encoding="utf-8") as f:
                if anchor not in anchors(f.read()):
                    bad.append("%s:%d: %s: no heading makes #%s" % (doc, n, target, anchor))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("doc", DOCS)
def test_backticked_paths_exist(doc):
    text = read(doc)
    bad = ["%s:%d: `%s` does not exist" % (doc, n, t) for n, t in path_tokens(text) if resolve(t, doc) is None]
    for n, fname, name in function_refs(text):
        p = resolve(fname, doc)
        if p is None:
            bad.append("%s:%d: `%s` does not exist" % (doc, n, fname))
            continue
        with open(p, encoding="utf-8") as f:
            src = f.read()
        if not (re.search(r"^\s*(?:async\s+)?(?:def|class)\s+%s\b" % name, src, re.M) or '"%s"' % name in src):
            bad.append("%s:%d: `%s::%s`: no such function or check" % (doc, n, fname, name))
    assert not bad, "\n".join(bad)


def test_no_file_sends_the_reader_to_the_notes_outside_the_repository():
    bad = []
    for rel, text in text_files():
        for n, what in note_refs(text):
            if SHARED_BUILD_INPUT.match(what) and not rel.endswith(".md"):
                continue                                        # the emulator's UF2 / boot ROM default
            bad.append("%s:%d: %s" % (rel, n, what))
    assert not bad, "replace with a reference to docs/design.md, docs/pump-figures.md or docs/sensors.md:\n" + \
        "\n".join(bad)


# --------------------------------------------------------------------------- the checker itself

def test_slugs_are_githubs():
    assert slug("The board's time") == "the-boards-time"
    assert slug("Recovery rules (the host `plan`)") == "recovery-rules-the-host-plan"
    assert slug("Raspberry Pi Pico (`boards/pico.json`)") == "raspberry-pi-pico-boardspicojson"
    assert slug("Fault codes (**contract**)") == "fault-codes-contract"
    assert slug("HX710B + MPS20N0040D") == "hx710b--mps20n0040d"
    assert anchors("# A\n## Same\n```\n## not a heading\n```\n## Same\n") == {"a", "same", "same-1"}


def test_the_checker_finds_what_it_should_and_skips_what_is_not_a_path():
    text = ("See [x](nowhere.md), [y](README.md#no-such), [z](https://example.org/a.md) and `a/b.py`.\n"
            "`make sim SCENARIO=tools/scenarios/power.json` `MICROPYTHON_UF2=path/to/file.uf2` `out/x.png`\n"
            "`max_vacuum_mmhg` `socket://127.0.0.1:7777` `/dev/ttyACM0` `firmware/pump/` `boards/nope.json`\n"
            "```\n[in](code.md) `tools/in_code.py`\n```\n")
    assert [t for _, t in links(text)] == ["nowhere.md", "README.md#no-such", "https://example.org/a.md"]
    tokens = [t for _, t in path_tokens(text)]
    assert tokens == ["a/b.py", "tools/scenarios/power.json", "firmware/pump/", "boards/nope.json"]
    assert [t for t in tokens if resolve(t, "README.md") is None] == ["a/b.py", "boards/nope.json"]
    assert function_refs("`host_tests/test_docs.py::test_slugs_are_githubs` and `test_x.py::y`") == [
        (1, "host_tests/test_docs.py", "test_slugs_are_githubs"), (1, "test_x.py", "y")]


def test_the_notes_check_catches_each_form():
    d, s = "DES" + "IGN", "../" + "shared"
    text = "\n".join(["see %s.md" % d, "as DOM" + "AIN's check", "(%s)" % d, s + "/rp2040/README.md",
                      s + "/rp2040/bootrom-b1.bin", "SENS" + "ORS = (1, 2)", "shared/runtime/pyexec.c"])
    found = note_refs(text)
    assert [n for n, _ in found] == [1, 2, 3, 4, 5]
    assert not SHARED_BUILD_INPUT.match(found[3][1]) and SHARED_BUILD_INPUT.match(found[4][1])
