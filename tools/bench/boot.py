"""Boots one benchmark run under QEMU and collects its BENCH lines.

Manifold boots its ISO in mode=bench with the command tools/qemu builds for the
tests. Linux boots Debian's kernel with -kernel/-initrd/-append in that very
command with the boot media taken out, so the machine (-M, -cpu, -m, -smp,
QEMU_EXTRA) is the same by construction. Each run is made once per mode:

  icount     -icount shift=0,sleep=off: every guest instruction advances
             virtual time by 1 ns, so rdtsc (x86_64) and PMCCNTR_EL0
             (aarch64, 1 GHz of virtual time) count instructions, and an
             idle CPU jumps to its next timer instead of waiting on the host
             clock: deterministic from run to run.
  wallclock  no icount: the counters follow the host's clock.
"""
import importlib.machinery
import importlib.util
import json
import os
import resource
import select
import subprocess
import time
from dataclasses import dataclass, field

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODES = {
    "icount": ["-icount", "shift=0,sleep=off"],
    "wallclock": [],
}
# What a "cycles" figure counts in each mode.
UNITS = {"icount": "instructions", "wallclock": "cycles"}

CONSOLE = {"x86_64": "ttyS0", "aarch64": "ttyAMA0"}
# Linux runs on one CPU as Manifold's benchmarks do today (and QEMU 7.2's
# round-robin icount scheduler hangs Linux's secondary-CPU bring-up).
# No KASLR (on arm64 without E0PD it forces kernel page-table isolation),
# no speculation mitigations, no per-syscall kernel-stack randomisation:
# Manifold has none of them. norandmaps keeps user address-space layouts,
# and so instruction counts, the same from run to run.
LINUX_APPEND = "panic=-1 maxcpus=1 nokaslr norandmaps mitigations=off randomize_kstack_offset=off quiet"

# Boot media that tools/qemu adds for the ISO; Linux gets -kernel instead.
BOOT_MEDIA_OPTIONS = {"-cdrom", "-boot", "-bios", "-drive"}


def _tools_qemu():
    """tools/qemu as a module (it has no .py suffix)."""
    path = os.path.join(TOOLS, "qemu")
    loader = importlib.machinery.SourceFileLoader("tools_qemu", path)
    spec = importlib.util.spec_from_loader("tools_qemu", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


_qemu = _tools_qemu()


def _without_host_randomness(arch, cmd):
    """The machine minus what feeds host randomness or time to the guest.

    QEMU's RDRAND/RDSEED return host random numbers, the virt board puts
    random kaslr-seed and rng-seed nodes in the device tree, and the RTC
    starts at the host's time of day: each makes Linux's instruction counts
    differ between runs. Manifold uses none of them. Both systems get the
    same changes, in both modes."""
    cmd = list(cmd)
    if arch == "x86_64":
        i = cmd.index("-cpu") + 1
        cmd[i] += ",-rdrand,-rdseed"
    else:
        i = cmd.index("-M") + 1
        cmd[i] += ",dtb-randomness=off"
    return cmd + ["-rtc", "base=2000-01-01T00:00:00,clock=vm"]


def manifold_command(arch, iso, mode):
    # One ISO for every mode: tools/qemu attaches the disk selecting mode=bench.
    cmd = _qemu.qemu_command(arch, iso, True, "bench")
    return _without_host_randomness(arch, cmd) + MODES[mode]


def linux_command(arch, kernel, initrd, mode):
    base = _without_host_randomness(arch, _qemu.qemu_command(arch, "", False))
    cmd = []
    skip_value = False
    for arg in base:
        if skip_value:
            skip_value = False
        elif arg in BOOT_MEDIA_OPTIONS:
            skip_value = True
        else:
            cmd.append(arg)
    append = f"console={CONSOLE[arch]} {LINUX_APPEND} {os.environ.get('BENCH_LINUX_APPEND', '')}".strip()
    return cmd + ["-kernel", kernel, "-initrd", initrd, "-append", append] + MODES[mode]


@dataclass
class Run:
    """One boot: what it printed and how it ended."""
    system: str
    mode: str
    figures: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)     # name -> reason (Linux)
    missing: list = field(default_factory=list)     # printed by another boot, not this one
    errors: list = field(default_factory=list)
    status: str = "not run"     # complete | incomplete | timeout | not run
    seconds: float = 0.0
    log: str = ""
    command: list = field(default_factory=list)
    other_load: float = 0.0     # host CPUs kept busy by other processes meanwhile
    boot_number: int = 1        # which boot of this (system, mode)


def parse_line(run, line, arch):
    """Takes one console line into `run`; returns a figure if it was one."""
    if line.startswith("BENCH "):
        try:
            fig = json.loads(line[6:])
            for key in ("name", "n", "min", "median", "max", "unit"):
                if key not in fig:
                    raise ValueError(f"no {key!r}")
        except ValueError as e:
            run.errors.append(f"unreadable BENCH line ({e}): {line[:120]}")
            return None
        if fig.get("arch", arch) != arch or fig.get("system", run.system) != run.system:
            run.errors.append(f"BENCH line for another arch or system: {line[:120]}")
            return None
        fig["arch"], fig["system"], fig["mode"] = arch, run.system, run.mode
        if fig["unit"] == "cycles":
            fig["unit"] = UNITS[run.mode]
        run.figures.append(fig)
        return fig
    if line.startswith("linux-bench: skip "):
        name, _, reason = line[len("linux-bench: skip "):].partition(": ")
        run.skipped[name] = reason
    elif line.startswith("linux-bench: error: ") or line.startswith("PANIC:"):
        run.errors.append(line)
    return None


def _busy_seconds():
    """CPU time the whole host has spent busy, and this process with its
    waited-for children (QEMU)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]                    # idle, iowait
    host = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    ours = sum(getattr(resource.getrusage(who), t) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for t in ("ru_utime", "ru_stime"))
    return host, ours


def boot(run, arch, cmd, log_path, timeout, on_figure):
    """Runs `cmd` to power-off or `timeout` seconds, filling `run`.

    QEMU gets its own session, so a Ctrl-C reaches only this process, which
    kills QEMU on the way out (finally), whatever the exception."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    run.command, run.log = cmd, log_path
    start = time.monotonic()
    host0, ours0 = _busy_seconds()
    pending = b""
    timed_out = False
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while True:
                left = timeout - (time.monotonic() - start)
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
                if not ready:
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                log.write(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").strip("\r\x00 ")
                    fig = parse_line(run, line, arch)
                    if fig:
                        on_figure(fig)
            if not timed_out:
                try:
                    proc.wait(timeout=10)   # the console closes just before QEMU exits
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    run.seconds = time.monotonic() - start
    # Wall-clock figures suffer when other processes want the host's CPUs:
    # how many CPUs they kept busy on average while this boot ran.
    host1, ours1 = _busy_seconds()
    run.other_load = max(0.0, (host1 - host0) - (ours1 - ours0)) / max(run.seconds, 0.001)
    code = proc.returncode
    # x86 Manifold powers off through isa-debug-exit: status 0 exits with 1.
    status = 0 if (run.system == "manifold" and arch == "x86_64" and code == 1) else _qemu.exit_status(arch, code)
    with open(log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    if timed_out:
        run.status = "timeout"
        run.errors.append(f"no power-off within {timeout:.0f} s")
    elif run.system == "linux" and "linux-bench: done" not in text:
        run.status = "incomplete"
        run.errors.append("Linux stopped before `linux-bench: done`")
    elif status != 0 or run.errors:
        run.status = "incomplete"
        run.errors.append(f"QEMU exit status {status}")
    else:
        run.status = "complete"
    return run
