"""CPython stand-in for MicroPython's built-in `micropython` module.

Only on sys.path for host runs under CPython: the firmware writes
`from micropython import const` exactly as on the board. Never copied to a
board (the real module is built in there and cannot be overridden).
"""


def const(value):
    return value


def native(f):
    return f


def viper(f):
    return f


def schedule(func, arg):
    func(arg)
    return True


def mem_info(*args):
    pass


def opt_level(*args):
    return 0
