"""pump/jsontext.py's verdicts on both VMs.

Usage: <python|micropython> jsontext_verdicts.py CASES
CASES holds one hex-encoded input per line; prints one line per input:
`OK <type> <value>` (strings as the hex of their UTF-8) or `NO <the rule>`.
"""
import sys
from binascii import hexlify, unhexlify

from pump.jsontext import loads

with open(sys.argv[1]) as f:
    for line in f:
        value, why = loads(unhexlify(line.strip()))
        if why is not None:
            print("NO " + why)
        elif isinstance(value, str):
            print("OK str " + str(hexlify(value.encode()), "ascii"))
        elif isinstance(value, (dict, list)):
            print("OK %s %d" % ("dict" if isinstance(value, dict) else "list", len(value)))
        else:
            print("OK %s %r" % ("float" if isinstance(value, float) else "other", value))
