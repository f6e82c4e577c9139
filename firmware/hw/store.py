"""Files on the board's flash: read config, replace files atomically.

littlefs `os.rename` replaces the target atomically even across power loss
(DESIGN.md), so a file is replaced by writing a temporary file, closing it,
and renaming it over the old one: a power cut leaves the old or the new
file, never half of one.
"""
import os


def read_text(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def free_bytes(path="/"):
    """Free space on the filesystem holding `path` (bytes)."""
    st = os.statvfs(path)
    return st[0] * st[3]
