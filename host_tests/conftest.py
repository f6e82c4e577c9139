"""Test set-up: the firmware imports as on the board (`import pump`), with
the CPython shim for `micropython` and the host fakes on sys.path."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (os.path.join(ROOT, "tools", "sim", "vm"), os.path.join(ROOT, "tools", "fakes"),
          os.path.join(ROOT, "tools", "cpython_shim"), os.path.join(ROOT, "firmware"), ROOT):
    if p not in sys.path:
        sys.path.insert(0, p)

from hypothesis import HealthCheck, settings  # noqa: E402

# `make test`: bounded and derandomized, so CI is repeatable and fast.
# `make soak`: many more random examples (HYPOTHESIS_PROFILE=soak).
settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("soak", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    """`make test` runs on two workers (pytest-xdist, --dist loadgroup).
    Every module but the emulated RP2040's runs whole on one worker, in its
    order: some share a module-scoped virtual board whose state one test
    leaves to the next. The emulated-RP2040 cases are independent (each
    starts a fresh chip from its board's flash image, which the first worker
    to need it makes, test_rp2040.flashed) and go to whichever worker is free."""
    import pytest
    for item in items:
        if item.get_closest_marker("rp2040") is None:
            item.add_marker(pytest.mark.xdist_group(name=item.module.__name__))
