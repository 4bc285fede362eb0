#!/usr/bin/env python3
"""Reads a Manifold serial log and judges the test run.

Lines the kernel and root task print (see DESIGN.md):
  1..N                           the plan: N tests registered
  ok N - name                    a pass
  not ok N - name # reason       a failure
  ok N - name # SKIP why         a test skipped (its hardware is absent)
  N passed, N failed[, N skipped] the suite's closing line
  PANIC: ...                     a fatal kernel error
  LOCKDEP: ...                   a lock-order or interrupt-state violation (kernel/lockdep.h)
  # expected: user.X ...          X makes threads fault on purpose (UTEST_FAULTS)
  manifold: thread N (...) killed: ...   a thread the kernel ended for a fault

The run fails on any failure, a PANIC, a LOCKDEP report, a missing or inconsistent summary,
or fewer results than the plan announced. Fault lines during a test that
did not announce them are listed as notes (not failures: a test judges
its own threads), so an unexpected one stands out from the expected ones.

usage: tools/testlog.py LOG [LABEL]
"""
import re
import sys

PLAN = re.compile(r"^1\.\.(\d+)\s*$")
RESULT = re.compile(r"^(not ok|ok) (\d+) - (\S+)(?: # (.*))?\s*$")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?")
EXPECTED = re.compile(r"^# expected: (\S+) ")
FAULT = re.compile(r"manifold: thread \d+ \(.*?\)(?: killed: |: fault in an LRPC server|: pager )")


def judge(text, label="", timed_out=False):
    """Returns (ok, report lines)."""
    plan = None
    results = {}
    summary = None
    panic = None
    expecting = None            # the test that announced its faults, until its result
    unexpected = []             # (test number, line)
    lockdep = []
    for raw in text.splitlines():
        line = raw.strip("\r")
        m = EXPECTED.match(line)
        if m:
            expecting = m.group(1)
            continue
        if FAULT.search(line) and expecting is None:
            unexpected.append((len(results) + 1, line.strip()))
        m = PLAN.match(line)
        if m:
            plan = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m:
            results[int(m.group(2))] = (m.group(1) == "ok", m.group(3), m.group(4) or "")
            expecting = None
            continue
        m = SUMMARY.match(line)
        if m:
            summary = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
            continue
        if line.startswith("PANIC:") and panic is None:
            panic = line
        if "LOCKDEP:" in line:
            lockdep.append(line[line.index("LOCKDEP:"):])
    out = []
    for n in sorted(results):
        ok, name, why = results[n]
        out.append(f"{'ok' if ok else 'not ok'} {n} - {name}" + (f" # {why}" if why else ""))
    skipped = sum(1 for r in results.values() if r[0] and r[2].startswith("SKIP"))
    passed = sum(1 for r in results.values() if r[0]) - skipped
    failed = len(results) - passed - skipped
    problems = []
    if panic:
        problems.append(f"kernel panic: {panic}")
    for l in lockdep[:10]:
        problems.append(f"lock-order validation: {l}")
    if timed_out:
        problems.append("timed out")
    if plan is None:
        problems.append("no test plan (1..N) in the log")
    elif len(results) < plan:
        missing = [n for n in range(1, plan + 1) if n not in results]
        problems.append(f"{plan} tests registered but {len(results)} reported (missing {missing[:10]})")
    if summary is None:
        problems.append("no 'N passed, N failed' line")
    elif summary != (passed, failed, skipped):
        problems.append(f"summary says {summary[0]} passed, {summary[1]} failed, {summary[2]} skipped; "
                        f"log shows {passed}, {failed}, {skipped}")
    prefix = f"{label}: " if label else ""
    for n, line in unexpected[:20]:
        out.append(f"{prefix}note: a fault not announced by test {n}: {line}")
    for p in problems:
        out.append(f"{prefix}FAILED: {p}")
    out.append(f"{prefix}{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return (failed == 0 and not problems), out


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], errors="replace") as f:
        ok, lines = judge(f.read(), sys.argv[2] if len(sys.argv) > 2 else "")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
