"""Validation with path-and-rule messages, shared by profiles.json and the
board files: every problem is collected with its path (`modes.expression.
vacuum_mmhg.max: 400 is above the hard limit 300`), all reported at once.
Load time only: allocation here is fine.
"""


def show(v):
    """A value as it looks in the JSON file, on one line and at most ~40
    characters (identical on both VMs)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, float):
        return "%g" % v
    if isinstance(v, (dict, list)):
        return "an object" if isinstance(v, dict) else "a list"
    return str(v)


def _quote(s):
    """A string in double quotes with control characters escaped, cut at 40."""
    out = '"'
    n = 0
    for c in s:
        if n == 40:
            return out + '..."'
        if c < " " or c == '"' or c == "\\" or "\x7f" <= c <= "\x9f" or c == "\u2028" or c == "\u2029":
            c = "\\u%04x" % ord(c)
        out += c
        n += 1
    return out + '"'


class Checker:
    """Collects every error with its path instead of stopping at the first."""

    def __init__(self):
        self.errors = []

    def error(self, path, text):
        self.errors.append(path + ": " + text)

    def obj(self, value, path, keys, optional=()):
        """True when value is an object with exactly `keys` (+ optional)."""
        if not isinstance(value, dict):
            self.error(path, show(value) + " is not an object")
            return False
        ok = True
        for k in keys:
            if k not in value:
                self.error(join(path, k), "missing")
                ok = False
        for k in sorted(value):
            if k not in keys and k not in optional:
                self.error(join(path, k), "unknown key")
                ok = False
        return ok

    def number(self, value, path, lo, hi, hard=None, integer=False):
        """A number in [lo, hi]; above `hard` gets the hard-limit message.
        Returns the value or None when it fails."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(path, show(value) + " is not a number")
            return None
        if integer and not isinstance(value, int):
            self.error(path, show(value) + " is not a whole number")
            return None
        if value != value:
            self.error(path, "NaN is not a number")
            return None
        if hard is not None and value > hard:
            self.error(path, "%s is above the hard limit %s" % (show(value), show(hard)))
            return None
        if value < lo:
            self.error(path, "%s is below the minimum %s" % (show(value), show(lo)))
            return None
        if value > hi:
            self.error(path, "%s is above the maximum %s" % (show(value), show(hi)))
            return None
        return value


def join(path, key):
    """path.key, or path["key"] for a key that is not a plain name (empty,
    spaces, dots, control characters): every message has a path."""
    plain = 0 < len(key) <= 40
    for c in key:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c == "_" or c == "-"):
            plain = False
            break
    if not plain:
        return path + "[" + _quote(key) + "]"
    return key if not path else path + "." + key
