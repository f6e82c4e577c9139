"""The fakes' `time` module for a script that runs on both VMs.

Under MicroPython tools/fakes/time.py already is `time` (a file on
MICROPYPATH wins over the extensible built-in); under CPython the built-in
wins, so the fake is loaded from its file. Either way the firmware gets
the module the script gets."""
import sys


def load():
    if sys.implementation.name == "micropython":
        import time
        return time
    import importlib.util
    import os
    spec = importlib.util.spec_from_file_location("time", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                       "time.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
