"""The virtual board's `os` (runs inside the MicroPython unix port).

The unix port's `os` is an extensible built-in, so this file, found on
MICROPYPATH before the built-in, becomes `os` for everything on the
virtual board. The file functions (listdir, ilistdir, stat, remove, rename,
mkdir, rmdir, statvfs, chdir, getcwd) are the built-in VFS ones: the
board's flash (a host folder) is mounted at "/" by tools/vboard/device.py,
so they act on the flash like on a board's littlefs. Added here: what the
boards have and the unix port lacks (uname, sync, dupterm); removed: what
only the unix port has (system, getenv, putenv, unsetenv).
"""
from uos import *  # noqa: F401,F403  (the built-in module, under its u-name)

try:
    del system, getenv, putenv, unsetenv  # noqa: F821  (boards have none of these)
except NameError:
    pass

_uname = None          # set by device.py: the board's uname_result


def uname():
    return _uname


def sync():
    pass


def dupterm(stream_object=None, index=0):
    return None
