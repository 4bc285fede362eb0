#!/usr/bin/env python3
"""Host test of tools/bench's verdict (report.problems, `run --check`): a
run fails for a figure that printed "verified":false and for a paired
Manifold figure (tools/bench/pairs.py) that a complete Manifold boot did
not print (a figure the host times, only on the wall clock); an incomplete boot is not blamed for the figures it lacks (its
status fails the run already). Synthetic results, no QEMU. Run by `make
host-test`."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "bench")
sys.path.insert(0, BENCH)
import pairs  # noqa: E402
import report  # noqa: E402


def figure(system, mode, name, **extra):
    return dict({"system": system, "mode": mode, "name": name, "arch": "x86_64", "unit": "instructions",
                 "n": 1000, "min": 1, "median": 2, "max": 3}, **extra)


def results(drop=(), unverified=(), incomplete=False, missing=()):
    figures, runs = [], []
    for mode in ("icount", "wallclock"):
        for _, m_name, l_name, _ in pairs.PAIRS:
            if (mode, m_name) not in drop:
                figures.append(figure("manifold", mode, m_name,
                                      verified=(mode, m_name) not in unverified))
            figures.append(figure("linux", mode, l_name))
        for system in ("manifold", "linux"):
            bad = incomplete and system == "manifold" and mode == "icount"
            runs.append({"system": system, "mode": mode, "boot": 1, "status": "timeout" if bad else "complete",
                         "seconds": 1.0, "figures": 1, "errors": [], "skipped": {}, "other_load": 0.0,
                         "missing": list(missing) if system == "manifold" and mode == "wallclock" else []})
    return {"arch": "x86_64", "date": "2000-01-01 00:00 UTC", "command": "test", "runs": runs,
            "figures": figures, "environment": {}}


def check(name, res, expect_problems, expect_status):
    found = report.problems(res)
    assert len(found) == expect_problems, f"{name}: {len(found)} problems, wanted {expect_problems}: {found}"
    with tempfile.TemporaryDirectory() as out:
        with open(os.path.join(out, "bench.json"), "w") as f:
            json.dump(res, f)
        status = subprocess.run([os.path.join(BENCH, "run"), "x86_64", "--check", "--out", out],
                                capture_output=True, text=True).returncode
    assert status == expect_status, f"{name}: run --check exited {status}, wanted {expect_status}"
    print(f"ok - {name}")
    return found


def main():
    pager = pairs.PAIRS[-1][1]
    check("every pair printed and verified", results(), 0, 0)
    found = check("one unverified figure", results(unverified={("icount", pager)}), 1, 1)
    assert "verified" in found[0] and pager in found[0]
    found = check("a paired figure absent from a complete boot", results(drop={("wallclock", pager)}), 1, 1)
    assert "wallclock #1" in found[0]
    check("a paired figure missing from one of several boots", results(missing=[pager]), 1, 1)
    check("absent only from an incomplete boot", results(drop={("icount", pager)}, incomplete=True), 0, 1)
    host_timed = sorted(pairs.WALLCLOCK_ONLY)[0]
    check("a host-timed figure absent under icount", results(drop={("icount", host_timed)}), 0, 0)
    check("a host-timed figure absent on the wall clock", results(drop={("wallclock", host_timed)}), 1, 1)
    assert pairs.why_no_linux("barrier.episode_2threads") is None
    assert pairs.why_no_linux("barrier.counter.cpus2") != pairs.why_no_linux("no.such.figure")


if __name__ == "__main__":
    main()
