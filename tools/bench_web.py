"""How late a tick can come while the phone app is flooded with requests.

    python -m tools.bench_web [--seconds 5] [--json out/bench-web.json]

Runs tools/bench_web_vm.py (the real app, web/serve.py's control task and
microdot, in the MicroPython VM in real time) idle and in a session, each
quiet and under two floods from FLOOD_THREADS host threads on 127.0.0.1:
"phone" (a paired client asking for the status, the history, the plan
and pressing buttons as fast as the board answers) and "attacker" (wrong
secrets, the lock then refusing everything). Prints, per case, the tick
interval's median, 99th percentile and maximum (the nominal is 10,000 us)
and how many requests were answered. The unix port runs at host speed: a
Pico runs the same bytecode some 30-100 times slower (docs/web-app.md
says what that means for the bound). A benchmark, not a test.
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

from tools import paths

FLOOD_THREADS = 8
SECRET = bytes(range(16)).hex()
VM_SCRIPT = os.path.join(paths.ROOT, "tools", "bench_web_vm.py")


def micropython():
    import shutil
    return shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which("micropython")


def microdot_lib(folder):
    import microdot
    os.symlink(os.path.dirname(os.path.abspath(microdot.__file__)), os.path.join(folder, "microdot"))
    return folder


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


PHONE = [("GET", "/api/status?since=-1", None), ("GET", "/api/history", None), ("GET", "/api/plan", None),
         ("POST", "/api/control", {"action": "level_up"}), ("POST", "/api/control", {"action": "level_down"}),
         ("GET", "/", None)]


def flood(port, kind, stop, counts):
    i = 0
    while not stop.is_set():
        method, path, body = PHONE[i % len(PHONE)]
        i += 1
        cookie = SECRET if kind == "phone" else "%032x" % i
        headers = {"Cookie": "pump_key=" + cookie}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            r.read()
            counts[r.status] = counts.get(r.status, 0) + 1
            c.close()
        except (OSError, http.client.HTTPException):
            counts["dropped"] = counts.get("dropped", 0) + 1


def run_case(state, kind, seconds):
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "flash")
        os.mkdir(work)
        lib = microdot_lib(tmp)
        port = free_port()
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([paths.FIRMWARE, paths.FAKES, paths.SIM_VM, lib, ".frozen"])
        proc = subprocess.Popen([micropython(), "-X", "heapsize=8m", VM_SCRIPT, work, str(port), str(seconds), state],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=paths.ROOT)
        line = proc.stdout.readline()
        if "READY" not in line:
            proc.kill()
            raise RuntimeError("the VM did not start: %s%s" % (line, proc.stderr.read()))
        stop = threading.Event()
        counts = {}
        threads = []
        if kind != "quiet":
            threads = [threading.Thread(target=flood, args=(port, kind, stop, counts), daemon=True)
                       for _ in range(FLOOD_THREADS)]
            for t in threads:
                t.start()
        out, err = proc.communicate(timeout=seconds + 60)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        if proc.returncode != 0:
            raise RuntimeError("the VM failed (%d): %s" % (proc.returncode, err[-2000:]))
        got = json.loads(out.strip().splitlines()[-1])
        got["answers"] = {str(k): v for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))}
        got["case"] = "%s, %s" % (state, kind)
        return got


def measure(seconds=5, out=print):
    rows = []
    for state in ("idle", "running"):
        for kind in ("quiet", "phone", "attacker"):
            r = run_case(state, kind, seconds)
            rows.append(r)
            out("%-20s tick interval median %6d us, p99 %6d us, max %6d us; %s" % (
                r["case"], r["median_us"], r["p99_us"], r["max_us"],
                ", ".join("%s: %d" % kv for kv in r["answers"].items()) or "no requests"))
    out("heap in use on this port (.py source, 64-bit): %d bytes with the app, %d with the web app built" % (
        rows[0]["heap_app_bytes"], rows[0]["heap_with_web_bytes"]))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.bench_web", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = measure(args.seconds)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
