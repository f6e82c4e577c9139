"""Damaged files for the fuzz layer (test_fuzz_flash.py, test_fuzz_tools.py).

`write_cases(folder, seed, n)` writes, for each file the firmware reads from
its flash (FLASH_FILES), `n` contents: random bytes, the file's valid
content mutated byte by byte (bit flips, non-UTF-8 sequences, NULs,
truncation, deletions, duplications), mutated as JSON (a value of another
type at a random path, keys removed or added, including the empty key;
log lines with a recomputed CRC so the damage gets past the CRC), and fixed
hard cases (empty, whitespace, a byte-order mark, a trailing NUL, nested 17
to 100000 deep, larger than the firmware's limit, a folder in its place).
Cases 0 and 1 are folders (empty, and holding a file), case 2 the valid
content unchanged. Case i of a file is folder/NAME/i (the bytes) or folder/NAME/i.dir/ (a
folder to put in the file's place). The VMs read the same cases, so their
outputs can be compared line by line.

Generated with CPython's `random` from a seed: the same seed, the same cases.
"""
import json
import os
import random

from tools import paths
from tools.sessions import logfile

paths.use_firmware()

FLASH_FILES = ("profiles.json", "state.json", "session.cur", "sessions.log", "reset.flag", "clock.set",
               "board.json")
BOARDS = ("pico", "pico_w", "esp32_devkitc", "sim")

NASTY = [b"\x00", b"\xff", b"\xfe", b"\x80", b"\xc0\x80", b"\xc1\x81", b"\xe0\x80\x80", b"\xed\xa0\x80",
         b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xc3", b"\xe2\x82", b"\xef\xbb\xbf", b"\xc3\xa9",
         b"\xf0\x9f\x98\x80", b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0", b"01", b"1.", b".5", b"+1",
         b"0x10", b"\\ud800", b"\\u00e9", b"\\x", b'""', b"[]", b"{}", b"null", b"true", b"false", b"\t",
         b"\r\n", b"\x0b", b"\x7f", b"\x01", b"\\", b'"', b"{", b"}", b"[", b"]", b",", b":", b" ", b"\n",
         b"1" * 30, b"9" * 5000, b"[" * 20, b"]" * 20, b"\\u0000", b"\xe2\x80\xa8"]
VALUES = [None, True, False, 0, -1, 1, 2, 7, 250, 301, -5, 1.5, 0.85, 1e300, -1e-300, 10 ** 20, 2 ** 31, 2 ** 30,
          "", "x", "standard", "LED", "rp2", "esp32", "analog", "a" * 100, "é\n\"\\", [], {}, [1, 2], [[[]]],
          {"": 1}, {"min": 1, "max": 2}, "\u2028", "06:00", "٠٦:٠٠", 4500, 26, 0.0, 16, 16.0]
KEYS = ["", " ", "a.b", "\n", "é", "version", "x" * 60, "pin", "type", "start_stop", "seq", "end", "v"]


def valid_contents():
    """The valid content of each flash file, as the board would hold it."""
    from pump.record import Record, encode
    with open(paths.PROFILES_JSON, "rb") as f:
        profiles = f.read()
    state = json.dumps({"boots": 5, "seq": 7, "last_start_s": None, "power_left": 0,
                        "power_last_s": None, "levels": 5 | 7 << 4 | 5 << 8}).encode()
    programs = ("standard", "power", "catch_up")

    def record(seq, end):
        r = Record()
        r.start(seq, None, 60 * seq, 4, seq % 3, "none")
        r.duration_ms = 1800000 + seq
        r.mode_ms[1] = 1680000
        r.levels[1] = 1 << 5
        r.peak_pa[1] = 25331
        if end:
            r.finish(end)
        return encode(r.as_dict("e6614104032f5a2a", "pico", programs)).encode()

    log = record(6, 1) + record(7, 2)
    cur = record(8, 0)
    return {"profiles.json": profiles, "state.json": state, "session.cur": cur, "sessions.log": log,
            "reset.flag": b"", "clock.set": b"[2026, 12, 2, 7, 50, 3]", "board.json": None}


def board_text(name):
    with open(os.path.join(paths.BOARDS, name + ".json"), "rb") as f:
        return f.read()


# -- mutators ---------------------------------------------------------------------------------

def mutate_bytes(rnd, data):
    data = bytearray(data)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        op = rnd.randrange(8)
        i = rnd.randrange(len(data) + 1)
        if op == 0 and data:
            j = rnd.randrange(len(data))
            data[j] ^= 1 << rnd.randrange(8)
        elif op == 1 and data:
            data[rnd.randrange(len(data))] = rnd.choice((0, 0xff, 0x80, 0xc0, 34, 123, 125, 91, 93, 44, 58, 92, 10,
                                                         9, rnd.randrange(256)))
        elif op == 2:
            data[i:i] = rnd.choice(NASTY)
        elif op == 3 and data:
            j = min(len(data), i + rnd.randrange(1, 40))
            del data[i:j]
        elif op == 4:
            del data[i:]
        elif op == 5 and data:
            j = min(len(data), i + rnd.randrange(1, 60))
            data[i:i] = data[i:j]
        elif op == 6:
            data[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 9)))
        else:
            data += rnd.choice((b"\x00", b"\n", b"\xff", b" ", b"}", b"\r\n"))
    return bytes(data)


def _paths(v, here=()):
    out = [here]
    if isinstance(v, dict):
        for k in v:
            out += _paths(v[k], here + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += _paths(x, here + (i,))
    return out


def _value(rnd):
    """A fresh copy of one of VALUES (never the shared object itself)."""
    return json.loads(json.dumps(rnd.choice(VALUES)))


def mutate_value(rnd, v):
    v = json.loads(json.dumps(v))
    for _ in range(rnd.choice((1, 1, 2, 3))):
        path = rnd.choice(_paths(v))
        if not path:
            if rnd.random() < 0.2:
                v = _value(rnd)
            continue
        parent = v
        for k in path[:-1]:
            parent = parent[k]
        k = path[-1]
        op = rnd.randrange(4)
        if op == 0 and isinstance(parent, dict):
            del parent[k]
        elif op == 1 and isinstance(parent, dict):
            parent[rnd.choice(KEYS)] = _value(rnd)
        elif op == 2 and isinstance(parent, list):
            parent.insert(rnd.randrange(len(parent) + 1), _value(rnd))
        else:
            parent[k] = _value(rnd)
        if not isinstance(v, (dict, list)):
            break
    return v


def dump(rnd, v):
    return json.dumps(v, ensure_ascii=rnd.random() < 0.5, indent=rnd.choice((None, None, 1, 4))).encode()


def log_line(v):
    """A record line with a correct CRC (the damage passes the CRC check)."""
    text = json.dumps(v)
    return text.encode() + b"\t" + logfile.crc_hex(text.encode()).encode() + b"\n"


def fixed_cases(valid):
    """Hard cases every run has, for a file whose valid content is `valid`."""
    body = valid.rstrip(b"\n")
    cases = [valid, b"", b" ", b"\n\n", b"\x00", b"\x00" * 300, b"\xff" * 64, b"\xef\xbb\xbf", b"\xef\xbb\xbf" + valid,
             valid + b"\x00", valid.replace(b"\n", b"\r\n"), valid[:len(valid) // 2], body, valid + valid,
             b"[" * 17 + b"]" * 17, b"[" * 1000 + b"]" * 1000, b"{\"a\":" * 100 + b"1" + b"}" * 100,
             b"[" * 100000, b" " * 16385 + b"{}", valid + b" " * (16385 - len(valid)), b"\x9a" * 20000,
             b"null", b"[]", b"{}", b"\"\\ud800\"", b"\xc0\x80", b"\xed\xa0\x80\xed\xb0\x80", b"{\"\":1}",
             "{\"version\": 1, \"x\": \"\u00e9\"}".encode("utf-8"), b"NaN", b"{\"a\": NaN}", b"1" * 5000]
    return cases


def cases_for(name, rnd, n, valid):
    """(bytes or None for a folder) x n for one file."""
    out = []
    if name == "board.json":
        texts = [board_text(b) for b in BOARDS]
        out += [None, None] + fixed_cases(texts[0])
        while len(out) < n:
            base = rnd.choice(texts)
            r = rnd.random()
            if r < 0.45:
                out.append(dump(rnd, mutate_value(rnd, json.loads(base))))
            elif r < 0.9:
                out.append(mutate_bytes(rnd, base))
            else:
                out.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(400))))
        return out[:n]
    out += [None, None]
    out += fixed_cases(valid) if valid else [b"", b"x", b"\xff", b"\x00" * 100, b"{}", b" " * 20000]
    is_line = name in ("session.cur", "sessions.log")
    while len(out) < n:
        r = rnd.random()
        if r < 0.1:
            out.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(600))))
        elif r < 0.15:
            out.append(bytes(rnd.choice(b' \t\n{}[]",:0123456789.eE-+truefalsn\\u') for _ in range(rnd.randrange(200))))
        elif valid and r < 0.55:
            out.append(mutate_bytes(rnd, valid))
        elif valid:
            if is_line:
                lines = [x + b"\n" for x in valid.split(b"\n") if x]
                k = rnd.randrange(len(lines))
                rec = json.loads(lines[k].split(b"\t")[0])
                lines[k] = log_line(mutate_value(rnd, rec))
                out.append(b"".join(lines))
            else:
                out.append(dump(rnd, mutate_value(rnd, json.loads(valid))))
        else:
            out.append(mutate_bytes(rnd, b"reset"))
    return out[:n]


def write_cases(folder, seed, n, names=FLASH_FILES):
    """Write n cases per file under folder/NAME/; returns {name: count}."""
    valid = valid_contents()
    good = os.path.join(folder, "good")
    os.makedirs(good, exist_ok=True)
    for name in ("state.json", "session.cur", "sessions.log"):
        with open(os.path.join(good, name), "wb") as f:
            f.write(valid[name])
    counts = {}
    for k, name in enumerate(names):
        rnd = random.Random("%s-%s" % (seed, name))
        d = os.path.join(folder, name)
        os.makedirs(d, exist_ok=True)
        cases = cases_for(name, rnd, n, valid[name])
        for i, data in enumerate(cases):
            if data is None:
                os.makedirs(os.path.join(d, "%d.dir" % i))
                if i % 2:
                    with open(os.path.join(d, "%d.dir" % i, "inside"), "wb") as f:
                        f.write(b"x")
            else:
                with open(os.path.join(d, str(i)), "wb") as f:
                    f.write(data)
        counts[name] = len(cases)
    return counts
