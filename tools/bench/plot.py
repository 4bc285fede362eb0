"""PNG plots of a benchmark run with gnuplot (Debian's gnuplot-nox).

One image per architecture, two panels: instructions (icount) and cycles
(wall-clock), each a clustered bar chart of the medians of every pair in
tools/bench/pairs.py with a figure in this run, Manifold beside Linux, on a
log scale. A pair whose Manifold benchmark does not exist yet shows its
Linux bar alone.
"""
import os
import shutil
import subprocess

import pairs

PANELS = [("icount", "instructions (-icount shift=0): median"),
          ("wallclock", "cycles (wall clock): median")]


def _rows(index):
    """(label, {mode: (manifold, linux)}) for pairs with any figure."""
    rows = []
    for label, m_name, l_name, _ in pairs.PAIRS:
        values = {}
        for mode, _ in PANELS:
            m = index.get(("manifold", mode, m_name))
            l = index.get(("linux", mode, l_name))
            values[mode] = (m["median"] if m else None, l["median"] if l else None)
        if any(v != (None, None) for v in values.values()):
            rows.append((label, values))
    return rows


def plot(arch, index, out_png):
    """Writes out_png; returns None, or why there is no plot."""
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (tools/deps installs gnuplot-nox)"
    rows = _rows(index)
    if not rows:
        return "no figure of a listed pair in this run"
    data_dir = os.path.dirname(out_png)
    script = [
        f'set terminal pngcairo noenhanced size 1100,{320 * len(PANELS) + 60} font "sans,10"',
        f'set output "{out_png}"',
        'set datafile missing "?"',
        "set style data histogram",
        "set style histogram cluster gap 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.9",
        "set logscale y",
        'set format y "%.0s%c"',
        "set rmargin 24",       # room for the last label, rotated
        "set grid ytics",
        "set xtics rotate by -25 nomirror",
        "set key top left",
        f"set multiplot layout {len(PANELS)},1 title \"Manifold and Linux on QEMU TCG, {arch}\\n"
        "(no bar: no such figure in this run, see bench.md)\"",
    ]
    for mode, title in PANELS:
        path = os.path.join(data_dir, f".plot-{mode}.dat")
        with open(path, "w") as f:
            for label, values in rows:
                m, l = values[mode]
                fmt = lambda v: "?" if v is None or v <= 0 else str(v)
                f.write(f'"{label}" {fmt(m)} {fmt(l)}\n')
        script += [
            f'set title "{title}"',
            f'plot "{path}" using 2:xtic(1) title "Manifold" lc rgb "#2b6cb0", '
            f'"" using 3 title "Linux" lc rgb "#dd8452"',
        ]
    script.append("unset multiplot")
    try:
        proc = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True,
                              capture_output=True, timeout=60)
    finally:
        for mode, _ in PANELS:
            path = os.path.join(data_dir, f".plot-{mode}.dat")
            if os.path.exists(path):
                os.remove(path)
    if proc.returncode != 0:
        return "gnuplot failed: " + proc.stderr.strip()[-300:]
    return None
