"""Print the validation messages for a set of broken profiles files; the
parity test requires the same text under CPython and MicroPython."""
import json

from pump import profiles


def broken():
    def base():
        return json.loads(json.dumps(profiles.DEFAULT_PROFILES))
    cases = []
    d = base()
    d["limits"]["max_vacuum_mmhg"] = 400
    d["modes"]["stimulation"]["suction_ratio"] = "half"
    d["modes"]["expression"]["vacuum_mmhg"]["max"] = 240.5
    d["programs"]["power"][2] = {"mode": "turbo", "minutes": 5}
    cases.append(d)
    d = base()
    d["modes"]["stimulation"]["cycles_per_min"] = 130
    d["modes"]["stimulation"]["suction_ratio"] = 0.75
    d["modes"]["expression"]["levels"] = 9.5
    d["programs"]["catch_up"] = [{"rest": 5}]
    d["colour"] = True
    cases.append(d)
    d = base()
    d["modes"]["stimulation"]["vacuum_mmhg"] = [50, 70, 70]
    del d["modes"]["stimulation"]["levels"]
    d["limits"]["max_session_min"] = 45
    cases.append(d)
    cases.append([1, 2])
    return cases


for case in broken():
    for e in profiles.load(case)[1]:
        print(e)
    print("--")
for e in profiles.loads('{"version": 1,')[1]:
    print(e.split(" (")[0])
