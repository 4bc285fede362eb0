"""results/<arch>/bench.md from one run's results (the dict of bench.json).

Nothing is filled in that was not measured: a figure absent from a run is
written "missing" (with the run's fate in the Runs table), a Linux figure
the initramfs skipped says why, and a Manifold figure without a Linux
counterpart says why not (tools/bench/pairs.py).

problems() says why a run must fail even though every boot completed: a
figure whose own check failed, or a paired Manifold figure that a complete
Manifold boot did not print. tools/bench/run exits non-zero for them, and
bench.md lists them under "Failed checks".
"""
import pairs

MODES = ["icount", "wallclock"]
MODE_UNIT = {"icount": "instructions", "wallclock": "cycles"}


def index_figures(figures):
    return {(f["system"], f["mode"], f["name"]): f for f in figures}


def _num(v):
    return f"{v:,}" if isinstance(v, int) else str(v)


def _boots(runs):
    """"icount #1, wallclock #1, #3": which boots, compactly."""
    by_mode = {}
    for run in runs:
        by_mode.setdefault(run["mode"], []).append(f"#{run.get('boot', 1)}")
    return ", ".join(f"{mode} {', '.join(boots)}" for mode, boots in by_mode.items())


def problems(results):
    """What makes this run fail besides an incomplete boot, one line each:
    every figure that printed "verified":false (in any boot), and every
    Manifold figure of a pair (pairs.PAIRS) that a complete Manifold boot did
    not print. Empty when all is well."""
    out = []
    for f in sorted(results["figures"], key=lambda f: (f["system"], f["name"], f["mode"])):
        if f.get("verified") is False:
            out.append(f"`{f['name']}` ({f['system']}, {f['mode']}) failed its own check (\"verified\":false)")
    printed = {(f["system"], f["mode"], f["name"]) for f in results["figures"]}
    complete = [run for run in results["runs"] if run["system"] == "manifold" and run["status"] == "complete"]
    for m_name in pairs.PAIRED:
        l_name = " / ".join(l for _, m, l, _ in pairs.PAIRS if m == m_name)
        absent = [run for run in complete
                  if not (m_name in pairs.WALLCLOCK_ONLY and run["mode"] != "wallclock")
                  and (("manifold", run["mode"], m_name) not in printed or m_name in run.get("missing", []))]
        if absent:
            out.append(f"`{m_name}`, Manifold's counterpart of Linux's `{l_name}`, was not printed by "
                       f"the complete Manifold boot{'s' if len(absent) > 1 else ''} {_boots(absent)}")
    return out


class Report:
    def __init__(self, results, previous=None):
        self.r = results
        self.previous = previous
        self.index = index_figures(results["figures"])
        self.runs = {(run["system"], run["mode"]): run for run in results["runs"]}
        self.names = {s: sorted({f["name"] for f in results["figures"] if f["system"] == s})
                      for s in ("manifold", "linux")}

    def wallclock_boots(self):
        return max([run.get("boot", 1) for run in self.r["runs"] if run["mode"] == "wallclock"] or [0])

    def cell(self, system, mode, name):
        """A median, or why there is none."""
        f = self.index.get((system, mode, name))
        if not f and name in pairs.WALLCLOCK_ONLY and mode != "wallclock":
            return "(wall clock only)"
        if f:
            mark = " (unverified!)" if f.get("verified") is False else ""
            return _num(f["median"]) + mark
        if system == "linux" and name in self.runs.get((system, mode), {}).get("skipped", {}):
            return "skipped"
        return "missing"

    def ratio(self, mode, m_name, l_name):
        m = self.index.get(("manifold", mode, m_name))
        l = self.index.get(("linux", mode, l_name))
        if not m or not l or not l["median"]:
            return "—"
        return f"{m['median'] / l['median']:.2f}"

    def header(self):
        r = self.r
        env = r["environment"]
        lines = [
            f"# Benchmarks: {r['arch']}",
            "",
            f"Measured by `{r['command']}` on {r['date']} — Manifold `{env['manifold']}`, "
            f"Linux {env['linux']}" + (f" with criu {env['criu']}" if env.get("criu") else "")
            + f", {env['qemu']} (TCG) on {env['host']}.",
            "",
            "Medians after 100 discarded warm-up runs, with the counter's own cost subtracted "
            "(method: docs/benchmarks.md; min and max are in bench.json and the table at the end). "
            "**instructions**: `-icount shift=0,sleep=off`, repeatable (see Determinism below). "
            f"**cycles**: wall clock ({env['cycles']}), the middle of {self.wallclock_boots()} boots. "
            "M/L = Manifold ÷ Linux: below 1, Manifold takes less.",
            "",
            f"QEMU: `{env['machine']}`; Linux: `-append \"{env['linux_append']}\"`.",
            "",
        ]
        if any(f["unit"].endswith("/s") and f.get("clock") != "host" for f in r["figures"]):
            lines += ["Rates (…/s) count seconds of the guest's clock: under icount a second is "
                      "10⁹ instructions.", ""]
        if any(f.get("clock") == "host" for f in r["figures"]):
            lines += ["`http.requests_per_s` is timed by the host (tools/bench/boot.py, HttpLoad): "
                      "sequential HTTP/1.0 requests through QEMU's hostfwd, one connection each; "
                      "the median is 1 / the median request time, on the wall clock only.", ""]
        bad = [run for run in r["runs"] if run["status"] != "complete"]
        for run in bad:
            lines.append(f"- **Incomplete: {run['system']} ({run['mode']}) {run['status']}** — "
                         + "; ".join(run["errors"][:3]) + ". What it did not print is marked missing.")
        if bad:
            lines.append("")
        if r.get("plot"):
            lines += [f"![Manifold and Linux medians, {r['arch']}]({r['plot']})", ""]
        elif r.get("plot_error"):
            lines += [f"(No plot: {r['plot_error']}.)", ""]
        return lines

    def failed_checks(self):
        found = problems(self.r)
        if not found:
            return []
        return (["## Failed checks", "",
                 "`make bench` fails (exit status 1) for these, even where every boot completed:", ""]
                + [f"- {p}" for p in found] + [""])

    def paired(self):
        lines = ["## Manifold beside Linux", "",
                 "| | Manifold | Linux | instructions: Manifold | Linux | M/L | cycles: Manifold | Linux | M/L |",
                 "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        waiting = []
        for label, m_name, l_name, what in pairs.PAIRS:
            if m_name not in self.names["manifold"]:
                waiting.append((m_name, l_name, what))
                continue
            cells = []
            for mode in MODES:
                cells += [self.cell("manifold", mode, m_name), self.cell("linux", mode, l_name),
                          self.ratio(mode, m_name, l_name)]
            lines.append(f"| {label} | `{m_name}` | `{l_name}` | " + " | ".join(cells) + " |")
        return lines + [""], waiting

    def manifold_only(self):
        rows = [n for n in self.names["manifold"] if n not in pairs.PAIRED]
        if not rows:
            return []
        lines = ["## Manifold figures without a Linux counterpart", "",
                 "| figure | unit (icount / wall clock) | icount median | wall-clock median | why no Linux figure |",
                 "| --- | --- | ---: | ---: | --- |"]
        for name in rows:
            units = " / ".join(dict.fromkeys(self.index[("manifold", m, name)]["unit"] for m in MODES
                                             if ("manifold", m, name) in self.index))
            lines.append(f"| `{name}` | {units} | {self.cell('manifold', 'icount', name)} | "
                         f"{self.cell('manifold', 'wallclock', name)} | {pairs.why_no_linux(name)} |")
        return lines + [""]

    def linux_waiting(self, waiting):
        if not waiting:
            return []
        lines = ["## Linux figures waiting for their Manifold benchmark", "",
                 "| Linux figure | for Manifold | instructions | cycles | what Linux does |",
                 "| --- | --- | ---: | ---: | --- |"]
        ran = any(run["status"] == "complete" for run in self.r["runs"] if run["system"] == "manifold")
        why = "not in this build" if ran else "Manifold did not complete a run"
        for m_name, l_name, what in waiting:
            lines.append(f"| `{l_name}` | `{m_name}` ({why}) | {self.cell('linux', 'icount', l_name)} | "
                         f"{self.cell('linux', 'wallclock', l_name)} | {what} |")
        extra = [n for n in self.names["linux"] if n not in pairs.MANIFOLD_FOR]
        for name in extra:
            lines.append(f"| `{name}` | (no pair listed) | {self.cell('linux', 'icount', name)} | "
                         f"{self.cell('linux', 'wallclock', name)} | |")
        return lines + [""]

    def runs_table(self):
        lines = ["## Runs", "",
                 "Other load: how many host CPUs other processes kept busy, on average, during the "
                 "boot. Above about 0.2, they competed with QEMU and that boot's wall-clock figures "
                 "are less reliable (instruction counts are not affected).", "",
                 "| system | mode | boot | result | seconds | other load | figures | notes |",
                 "| --- | --- | ---: | --- | ---: | ---: | ---: | --- |"]
        for run in self.r["runs"]:
            notes = list(run["errors"])
            notes += [f"skipped `{n}`: {why}" for n, why in run["skipped"].items()]
            notes += [f"missing `{n}`" for n in run.get("missing", [])]
            lines.append(f"| {run['system']} | {run['mode']} | {run.get('boot', 1)} | {run['status']} | "
                         f"{run['seconds']:.1f} | "
                         f"{run.get('other_load', 0):.2f} | {run['figures']} | {'; '.join(notes)} |")
        return lines + [""]

    def determinism(self):
        lines = ["## Determinism of the instruction counts", ""]
        prev = self.previous
        if not prev:
            return lines + ["No earlier results/<arch>/bench.json to compare with.", ""]
        old = index_figures(prev.get("figures", []))
        same, changed, new = 0, [], 0
        for (system, mode, name), f in sorted(self.index.items()):
            if mode != "icount":
                continue
            o = old.get((system, mode, name))
            if not o:
                new += 1
            elif (o["min"], o["median"], o["max"]) == (f["min"], f["median"], f["max"]):
                same += 1
            else:
                changed.append(f"`{system} {name}` {_num(o['median'])} → {_num(f['median'])} "
                               f"(min {_num(o['min'])} → {_num(f['min'])}, max {_num(o['max'])} → {_num(f['max'])})")
        code = ("the same Manifold revision" if prev["environment"]["manifold"] == self.r["environment"]["manifold"]
                else f"Manifold `{prev['environment']['manifold']}` (other code: differences are expected)")
        lines.append(f"Against the previous run ({prev['date']}, {code}): {same} of {same + len(changed)} "
                     f"instruction-count figures identical in min, median and max"
                     + (f"; {new} new" if new else "") + ".")
        lines += [""] + [f"- {c}" for c in changed] + ([""] if changed else [])
        return lines

    def all_figures(self):
        lines = ["## Every figure", "",
                 "A figure measured in several boots is that of the boot with the middle median; "
                 "the last column is the range of the boots' medians.", "",
                 "| system | figure | mode | unit | n | min | median | max | boots: medians |",
                 "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for f in sorted(self.r["figures"], key=lambda f: (f["system"] != "manifold", f["name"], f["mode"])):
            spread = ""
            if f.get("boots"):
                low, high = f["median_range"]
                spread = f"{f['boots']}: {_num(low)} – {_num(high)}"
            lines.append(f"| {f['system']} | `{f['name']}` | {f['mode']} | {f['unit']} | {f['n']} | "
                         f"{_num(f['min'])} | {_num(f['median'])} | {_num(f['max'])} | {spread} |")
        return lines + [""]

    def markdown(self):
        paired, waiting = self.paired()
        parts = (self.header() + self.failed_checks() + paired + self.manifold_only() + self.linux_waiting(waiting)
                 + self.runs_table() + self.determinism() + self.all_figures())
        return "\n".join(parts)
