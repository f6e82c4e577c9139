"""pump/jsontext.py: the files on the flash as strict JSON, one verdict and
one message on both VMs (MicroPython's json.loads takes `[1 2]`, `01`, a
trailing NUL and overlong UTF-8; CPython's takes NaN and nests ~1000 deep).
Decided: a file one of them would take and the other refuse is refused on
both; a UTF-8 byte-order mark (Windows Notepad) is taken on both."""
import json
import os
from binascii import hexlify

import pytest

import mpvm
from pump import jsontext
from pump.jsontext import loads

PROFILES = open(os.path.join(mpvm.ROOT, "profiles.json"), "rb").read()

# (input, expected verdict: a value, or the start of the rule)
CASES = [
    (b"", "empty"),
    (b"  \n\t\r\n", "empty"),
    (b"\xef\xbb\xbf{}", {}),
    (b"\xef\xbb\xbf", "empty"),
    (b'{"a": 1}\x00', "not valid JSON at line 1 column 9: byte 0 after the value"),
    (b"\x00", "not valid JSON at line 1 column 1: expected a value"),
    (b"[1 2]", "not valid JSON at line 1 column 4: expected , or ]"),
    (b'{"a" 1}', "not valid JSON at line 1 column 6: expected :"),
    (b"[1,]", "not valid JSON at line 1 column 4: expected a value"),
    (b'{"a":1,}', "not valid JSON at line 1 column 8: expected a key in double quotes"),
    (b"{,}", "not valid JSON at line 1 column 2: expected a key in double quotes"),
    (b"[truefalse]", "not valid JSON at line 1 column 6: expected , or ]"),
    (b"01", "not valid JSON at line 1 column 1: a number with a leading 0"),
    (b"1.", "not valid JSON at line 1 column 3: no digit after ."),
    (b"1e+", "not valid JSON at line 1 column 4: no digit after +"),
    (b".5", "not valid JSON at line 1 column 1: expected a value"),
    (b"NaN", "not valid JSON at line 1 column 1: expected a value"),
    (b"[Infinity]", "not valid JSON at line 1 column 2: expected a value"),
    (b"1" * 25, "not valid JSON at line 1 column 1: a number longer than 24 characters"),
    (b'"a\x01"', "not valid JSON at line 1 column 3: a control character in a string"),
    (b'"\\x"', "not valid JSON at line 1 column 2: not a JSON escape"),
    (b'"\\u12"', "not valid JSON at line 1 column 2: \\u needs 4 hex digits"),
    (b'"\\ud83d\\ude00"', "not valid JSON at line 1 column 2: \\ud83d is half a surrogate pair"),
    (b'"\\u00e9\\/"', "\u00e9/"),
    (b"\xc0\x80", "not UTF-8 text"),
    (b"\xc1\x81", "not UTF-8 text"),
    (b"\xe0\x80\x80", "not UTF-8 text"),
    (b'"\xed\xa0\x80"', "not UTF-8 text"),
    (b'"\xf4\x90\x80\x80"', "not UTF-8 text"),
    (b"\xff", "not UTF-8 text"),
    (b'"\xc3\xa9\xf0\x9f\x98\x80"', "\u00e9\U0001F600"),
    (b"[" * 16 + b"]" * 16, list),
    (b"[" * 17 + b"]" * 17, "not valid JSON at line 1 column 17: nested more than 16 deep"),
    (b"[" * 10000, "not valid JSON at line 1 column 17: nested more than 16 deep"),
    (b"[" * 100000, "100000 bytes, more than 16384"),
    (b'{\n  "a": [1,\n  2 3]}', "not valid JSON at line 3 column 5: expected , or ]"),
    (b'{"\xc3\xa9": x}', "not valid JSON at line 1 column 7: expected a value"),
    (b'"abc', "not valid JSON at line 1 column 5: cut short in a string"),
    (b'{"a": [1, 2', "not valid JSON at line 1 column 12: cut short"),
    (b"-0", 0),
    (b"1e400", float("inf")),
    (b"  true ", True),
    (b"null", None),
    (b" " * 16385, "16385 bytes, more than 16384"),
    (PROFILES, dict),
]


def verdict(data):
    value, why = loads(data)
    return value if why is None else why


@pytest.mark.parametrize("data,want", CASES, ids=[repr(c[0][:24]) for c in CASES])
def test_verdict_and_message(data, want):
    got = verdict(data)
    if want in (dict, list):
        assert isinstance(got, want)
    elif isinstance(want, str) and (want.startswith("not ") or want in ("empty",) or "bytes, more than" in want):
        assert isinstance(got, str) and got.startswith(want), got
    else:
        assert got == want and type(got) is type(want)


def test_what_it_takes_cpython_json_reads_the_same():
    """Whatever jsontext takes, CPython's json reads to the same value: it
    only ever narrows json.loads, never changes a value."""
    for data, want in CASES:
        value, why = loads(data)
        if why is None:
            assert json.loads(data.decode("utf-8-sig")) == value


def test_both_vms_give_the_same_verdicts_and_messages(tmp_path):
    import random
    rnd = random.Random(5)
    inputs = [c[0] for c in CASES]
    import fuzz_cases
    for _ in range(400):
        inputs.append(fuzz_cases.mutate_bytes(rnd, PROFILES if rnd.random() < 0.5 else b'{"a": [1, "\xc3\xa9", null]}'))
    p = tmp_path / "cases.txt"
    p.write_text("\n".join(hexlify(x).decode() for x in inputs) + "\n")
    script = os.path.join(mpvm.SCRIPTS, "jsontext_verdicts.py")
    cp = mpvm.run_cpython(script, str(p)).splitlines()
    mp = mpvm.run(script, str(p)).splitlines()
    assert len(cp) == len(inputs)
    differ = [(inputs[i][:60], cp[i], mp[i]) for i in range(len(cp)) if cp[i] != mp[i]]
    assert not differ, differ[:5]


def test_limits_are_what_the_docs_say():
    assert (jsontext.MAX_BYTES, jsontext.MAX_DEPTH, jsontext.MAX_NUMBER) == (16384, 16, 24)
