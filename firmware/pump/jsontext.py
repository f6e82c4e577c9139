"""The files on the flash as strict JSON, with one verdict on both VMs.

MicroPython's json.loads takes much that is not JSON (`[1 2]`, `{"a" 1}`,
`01`, raw control characters, a trailing NUL) and its str() takes overlong
and surrogate UTF-8; CPython's takes NaN and Infinity and nests only
~1000 deep. A file one VM reads and the other refuses would run on the
board and fail profiles-check, or the reverse. So every file goes through
here first, the same code on both: at most MAX_BYTES, UTF-8 (a leading
byte-order mark, as Windows Notepad writes it, is skipped), one strict
JSON value (RFC 8259) nested at most MAX_DEPTH deep, numbers at most
MAX_NUMBER characters, no \\u escape of half a surrogate pair. Only then
json.loads builds the value. The messages are this module's, never the
VM's: `empty`, `not UTF-8 text`, `not valid JSON at line 3 column 5: expected , or }`.

Load time only: it allocates and loops per byte (a few ms per KB on a Pico).
"""
import json

MAX_BYTES = 16384
MAX_DEPTH = 16
MAX_NUMBER = 24


def text(data):
    """(str, None) or (None, rule) for a file's bytes (or str)."""
    if len(data) > MAX_BYTES:
        return None, "%d bytes, more than %d" % (len(data), MAX_BYTES)
    if isinstance(data, str):
        return (data[1:] if data[:1] == "\ufeff" else data), None
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    try:
        s = str(data, "utf-8")
    except ValueError:                      # UnicodeError on both VMs
        return None, "not UTF-8 text"
    if len(s) != len(data):
        # MicroPython decodes overlong forms, surrogates and code points
        # past U+10FFFF; CPython refuses them. Refuse them on both: an
        # overlong form takes more bytes than its code point needs.
        total = 0
        for c in s:
            n = ord(c)
            if 0xD7FF < n < 0xE000 or n > 0x10FFFF:
                return None, "not UTF-8 text"
            total += 1 if n < 0x80 else 2 if n < 0x800 else 3 if n < 0x10000 else 4
        if total != len(data):
            return None, "not UTF-8 text"
    return s, None


def loads(data):
    """(value, None) or (None, rule) for a file's bytes (or str)."""
    s, why = text(data)
    if s is None:
        return None, why
    why = check(s.encode())
    if why is not None:
        return None, why
    return json.loads(s), None


def _at(b, i, rule):
    line = b.count(b"\n", 0, i) + 1
    start = b.rfind(b"\n", 0, i) + 1
    col = 1
    for x in b[start:i]:
        if x & 0xC0 != 0x80:                # characters, not bytes
            col += 1
    return "not valid JSON at line %d column %d: %s" % (line, col, rule)


def _string(b, i, n):
    """The index after the string starting at b[i] (a quote); raises ValueError."""
    i += 1
    while i < n:
        c = b[i]
        if c == 34:
            return i + 1
        if c < 32:
            raise ValueError(_at(b, i, "a control character in a string"))
        if c == 92:
            e = b[i + 1] if i + 1 < n else 0
            if e == 117:
                h = b[i + 2:i + 6]
                if len(h) < 4 or [x for x in h if x not in b"0123456789abcdefABCDEF"]:
                    raise ValueError(_at(b, i, "\\u needs 4 hex digits"))
                if 0xD800 <= int(h, 16) < 0xE000:
                    raise ValueError(_at(b, i, "\\u%s is half a surrogate pair" % str(h, "ascii")))
                i += 6
                continue
            if not e or e not in b'"\\/bfnrt':
                raise ValueError(_at(b, i, "not a JSON escape"))
            i += 2
            continue
        i += 1
    raise ValueError(_at(b, n, "cut short in a string"))


def _number(b, i, n):
    """The index after the number starting at b[i]; raises ValueError."""
    j = i + 1 if b[i] == 45 else i
    k = j
    while k < n and 48 <= b[k] <= 57:
        k += 1
    if k == j or (b[j] == 48 and k > j + 1):
        raise ValueError(_at(b, i, "expected a value" if k == j else "a number with a leading 0"))
    for mark in (b".", b"eE"):
        if k < n and b[k] in mark:
            k += 1
            if mark == b"eE" and k < n and b[k] in b"+-":
                k += 1
            j = k
            while k < n and 48 <= b[k] <= 57:
                k += 1
            if k == j:
                raise ValueError(_at(b, k, "no digit after " + str(b[j - 1:j], "ascii")))
    if k - i > MAX_NUMBER:
        raise ValueError(_at(b, i, "a number longer than %d characters" % MAX_NUMBER))
    return k


def check(b):
    """None when the UTF-8 bytes `b` are one strict JSON value, else the rule."""
    n = len(b)
    i = 0
    st = bytearray(MAX_DEPTH)              # the open brackets, { or [
    d = 0
    want = 0                               # 0 a value, 1 after a value, 2 a key, 3 a colon
    opened = False                         # right after { or [: the closing bracket may come
    try:
        while i < n:
            c = b[i]
            if c in b" \t\n\r":
                i += 1
                continue
            close = st[d - 1] + 2 if d else 0      # } is { + 2, ] is [ + 2
            if opened and c == close:
                d -= 1
                want = 1
                opened = False
                i += 1
                continue
            opened = False
            if want == 1:
                if not d:
                    raise ValueError(_at(b, i, "more after the value" if c > 31 else "byte %d after the value" % c))
                if c == 44:
                    want = 2 if close == 125 else 0
                elif c == close:
                    d -= 1
                else:
                    raise ValueError(_at(b, i, "expected , or %s" % chr(close)))
                i += 1
            elif want == 3:
                if c != 58:
                    raise ValueError(_at(b, i, "expected :"))
                want = 0
                i += 1
            elif want == 2:
                if c != 34:
                    raise ValueError(_at(b, i, "expected a key in double quotes"))
                i = _string(b, i, n)
                want = 3
            elif c == 123 or c == 91:
                if d == MAX_DEPTH:
                    raise ValueError(_at(b, i, "nested more than %d deep" % MAX_DEPTH))
                st[d] = c
                d += 1
                want = 2 if c == 123 else 0
                opened = True
                i += 1
            elif c == 34:
                i = _string(b, i, n)
                want = 1
            else:
                for word in (b"true", b"false", b"null"):
                    if b[i:i + len(word)] == word:
                        i += len(word)
                        break
                else:
                    i = _number(b, i, n)
                want = 1
        if want != 1 or d:
            return "empty" if not b.strip() else _at(b, n, "cut short")
    except ValueError as e:
        return e.args[0]
    return None
