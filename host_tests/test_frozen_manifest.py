"""boards/manifest.py, the frozen build for people who build their own
MicroPython: it must freeze every firmware module but main.py (a module it
missed would silently load from the flash, or not at all), from paths that
exist, and include the port's own manifest.

The manifest is run here as MicroPython's tools/manifestfile.py runs it:
Python with include/package/module/require/freeze as globals, relative
paths relative to the manifest's folder."""
import os

from tools import paths

MANIFEST = os.path.join(paths.BOARDS, "manifest.py")


def frozen_files():
    """{module file path relative to firmware/}, and the included manifests
    and required packages, from executing the manifest."""
    here = os.path.dirname(MANIFEST)
    frozen, included, required = set(), [], []

    def under(base, rel):
        root = os.path.normpath(os.path.join(here, base))
        assert os.path.isdir(root), base
        return root, os.path.join(root, rel)

    def package(name, files=None, base_path=".", opt=None):
        root, top = under(base_path, name)
        assert os.path.isfile(os.path.join(top, "__init__.py")), name
        for dirpath, dirnames, names in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for n in names:
                if n.endswith(".py"):
                    frozen.add(os.path.relpath(os.path.join(dirpath, n), root).replace(os.sep, "/"))

    def module(path, base_path=".", opt=None):
        root, f = under(base_path, path)
        assert os.path.isfile(f), path
        frozen.add(os.path.relpath(f, root).replace(os.sep, "/"))

    def include(path, **kw):
        included.append(path)

    def require(name, **kw):
        required.append(name)

    def freeze(*a, **kw):
        raise AssertionError("use package()/module(): freeze() of a folder would take main.py too")

    g = {"package": package, "module": module, "include": include, "require": require, "freeze": freeze}
    exec(compile(open(MANIFEST).read(), MANIFEST, "exec"), g)
    return frozen, included, required


def firmware_modules():
    out = set()
    for dirpath, dirnames, names in os.walk(paths.FIRMWARE):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for n in names:
            if n.endswith(".py"):
                out.add(os.path.relpath(os.path.join(dirpath, n), paths.FIRMWARE).replace(os.sep, "/"))
    return out


def test_the_manifest_freezes_every_firmware_module_but_main(monkeypatch):
    monkeypatch.delenv("MICRODOT_DIR", raising=False)
    frozen, _, _ = frozen_files()
    assert frozen == firmware_modules() - {"main.py"}


def test_the_manifest_keeps_the_ports_own_modules_and_the_display_driver():
    _, included, required = frozen_files()
    assert included == ["$(PORT_DIR)/boards/manifest.py"]
    assert "ssd1306" in required


def test_microdot_is_frozen_from_the_folder_microdot_dir_names(monkeypatch):
    import microdot
    monkeypatch.setenv("MICRODOT_DIR", os.path.dirname(os.path.dirname(os.path.abspath(microdot.__file__))))
    frozen, _, _ = frozen_files()
    extra = frozen - firmware_modules()
    assert {"microdot/__init__.py", "microdot/microdot.py", "microdot/helpers.py"} <= extra
    assert all(p.startswith("microdot/") for p in extra)
