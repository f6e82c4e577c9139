"""Files on the board's flash: read config, replace files atomically.

littlefs `os.rename` replaces the target atomically even across power loss
(docs/design.md), so a file is replaced by writing a temporary file, closing it,
and renaming it over the old one: a power cut leaves the old or the new
file, never half of one.
"""
import os


def read_bytes(path, limit):
    """The file's bytes, or None when there is no such file. Raises
    ValueError with the reason when it is a folder, larger than `limit`
    bytes (refused before it is read: a Pico has ~190 KB of heap) or cannot
    be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st[0] & 0x4000:
        raise ValueError("a folder, not a file")
    if st[6] > limit:
        raise ValueError("%d bytes, more than %d" % (st[6], limit))
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError("cannot be read (error %s)" % (e.args[0] if e.args else "?"))


def read_text(path, limit=16384):
    """The file's text, or None when it is missing or not readable as text."""
    try:
        data = read_bytes(path, limit)
        return None if data is None else str(data, "utf-8")
    except ValueError:
        return None


def set_aside(path):
    """Move a damaged file (or folder) out of the firmware's way, to
    path + ".bad" for `make logs` to pull: the newest damage replaces an
    older one. Returns the new name, or None when it could only be removed
    (or not even that)."""
    bad = path + ".bad"
    for _ in (0, 1):
        try:
            os.rename(path, bad)
            return bad
        except OSError:
            remove(bad)                     # an older .bad in the way (a folder cannot be renamed over a file)
    remove(path)
    return None


def remove(path):
    """Remove a file or an empty folder; True when it is gone."""
    for f in (os.remove, os.rmdir):
        try:
            f(path)
            return True
        except OSError:
            pass
    try:
        os.stat(path)
    except OSError:
        return True
    return False


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def free_bytes(path="/"):
    """Free space on the filesystem holding `path` (bytes)."""
    st = os.statvfs(path)
    return st[0] * st[3]


def load_json(read, name):
    """(value, None), (None, None) when there is no such file, or (None,
    "name: reason") for a file that is there but unusable: a folder, too
    large, not UTF-8, not strict JSON (pump/jsontext.py; the same verdict
    and message on both VMs). `read(name)` gives bytes or str, None for a
    missing file, and may raise ValueError with the reason."""
    from pump.jsontext import MAX_BYTES, loads
    try:
        if read is None:
            data = read_bytes(name, MAX_BYTES)
        else:
            data = read(name)
    except ValueError as e:
        return None, name + ": " + e.args[0]
    if data is None:
        return None, None
    try:
        value, why = loads(data)
    except MemoryError:
        return None, name + ": too large to load"
    return value, None if why is None else name + ": " + why
