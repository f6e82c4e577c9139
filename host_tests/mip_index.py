"""A local package index in micropython-lib's v2 layout, served over HTTP
on loopback: `mip install --index URL ssd1306` works without the internet.
The package is the stand-in ssd1306 from tools/fakes/optional."""
import contextlib
import functools
import hashlib
import http.server
import json
import os
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SSD1306 = os.path.join(ROOT, "tools", "fakes", "optional", "ssd1306.py")


@contextlib.contextmanager
def serve(folder):
    """Yields (index URL, the package's bytes) while the server runs."""
    with open(SSD1306, "rb") as f:
        data = f.read()
    h = hashlib.sha256(data).hexdigest()[:8]
    index = os.path.join(str(folder), "index")
    os.makedirs(os.path.join(index, "file", h[:2]), exist_ok=True)
    with open(os.path.join(index, "file", h[:2], h), "wb") as f:
        f.write(data)
    for mpy in ("6", "py"):
        pkg = os.path.join(index, "package", mpy, "ssd1306")
        os.makedirs(pkg, exist_ok=True)
        with open(os.path.join(pkg, "latest.json"), "w") as f:
            json.dump({"hashes": [["ssd1306.py", h]], "version": "0.1"}, f)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=index)
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d" % httpd.server_address[1], data
    finally:
        httpd.shutdown()
        httpd.server_close()
