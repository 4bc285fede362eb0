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

One figure is measured by the host, not the guest: http.requests_per_s
(HttpLoad). Both systems serve the same page at 10.0.2.15:80 on the NIC on
QEMU's user network; when the guest prints `http-bench: serving N requests
(W warm-up) ...`, the host sends N HTTP/1.0 requests through the hostfwd
port, one connection at a time, and times each on its own clock. Only on
the wall clock: under -icount an idle guest's clock jumps ahead, so the
host sends nothing, and the guest gives up waiting and says so.
"""
import importlib.machinery
import importlib.util
import json
import os
import resource
import select
import socket
import subprocess
import threading
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


def manifold_command(arch, iso, mode, http_port=None):
    # One ISO for every mode: tools/qemu attaches the disk selecting mode=bench.
    cmd = _qemu.qemu_command(arch, iso, True, "bench", http_port=http_port)
    return _without_host_randomness(arch, cmd) + MODES[mode]


def linux_command(arch, kernel, initrd, mode, http_port=None):
    base = _without_host_randomness(arch, _qemu.qemu_command(arch, "", False, http_port=http_port))
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
    # A figure the guest could not measure says why: Linux's /init as
    # `linux-bench: skip NAME: reason`, Manifold's root task as `bench: skip ...`.
    skip = next((p for p in ("linux-bench: skip ", "bench: skip ") if line.startswith(p)), None)
    if skip:
        name, _, reason = line[len(skip):].partition(": ")
        run.skipped[name] = reason
    elif line.startswith("linux-bench: error: ") or line.startswith("PANIC:"):
        run.errors.append(line)
    return None


class HttpLoad:
    """The host's client for http.requests_per_s (see the top of this file).

    Each request is timed from connect() to the server's close; the
    figure's median is 1 / the median request time (so its "min" is
    1 / the slowest), in requests per second of the host's clock. The
    first request may be retried for a while (the library OS can print its
    marker before it listens). A reply without the page makes the figure
    "verified": false."""
    MARKER = "http-bench: serving "
    NAME = "http.requests_per_s"
    EXPECT = b"Hello from 10.0.2.15"

    def __init__(self, port, arch, system):
        self.port, self.arch, self.system = port, arch, system
        self.thread, self.figure, self.error = None, None, None

    def line(self, line, mode):
        if self.thread or mode != "wallclock" or not line.startswith(self.MARKER):
            return
        try:
            words = line[len(self.MARKER):].replace("(", " ").split()
            total, warmup = int(words[0]), int(words[2])
        except (IndexError, ValueError):
            self.error = f"unreadable marker: {line[:120]}"
            return
        self.thread = threading.Thread(target=self.load, args=(total, warmup), daemon=True)
        self.thread.start()

    def request(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: manifold\r\n\r\n")
            body = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return body
                body += chunk

    def load(self, total, warmup):
        times, right = [], True
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if self.EXPECT in self.request():
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    self.error = "the guest's HTTP server never answered"
                    return
                time.sleep(0.2)
            for i in range(1, total):
                t0 = time.perf_counter()
                body = self.request()
                t1 = time.perf_counter()
                right = right and body.startswith(b"HTTP/1.0 200 OK\r\n") and self.EXPECT in body
                if i >= warmup:
                    times.append(t1 - t0)
        except OSError as e:
            self.error = f"request {len(times) + 1}: {e}"
            return
        times.sort()
        self.figure = {"name": self.NAME, "arch": self.arch, "system": self.system, "unit": "requests/s",
                       "n": len(times), "min": round(1 / times[-1]), "median": round(1 / times[len(times) // 2]),
                       "max": round(1 / times[0]), "clock": "host", "verified": right}

    def finish(self, run, on_figure):
        """After the boot: the figure into `run`, or why there is none."""
        if self.thread:
            self.thread.join(timeout=60)
        if self.error:
            run.errors.append(f"HTTP load: {self.error}")
        elif self.thread and self.figure:
            fig = dict(self.figure, mode=run.mode)
            run.figures.append(fig)
            on_figure(fig)
        elif self.thread:
            run.errors.append("HTTP load: did not finish")


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


def boot(run, arch, cmd, log_path, timeout, on_figure, http_port=None):
    """Runs `cmd` to power-off or `timeout` seconds, filling `run`; with
    http_port (the hostfwd port in `cmd`), also the host's HTTP load.

    QEMU gets its own session, so a Ctrl-C reaches only this process, which
    kills QEMU on the way out (finally), whatever the exception."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    run.command, run.log = cmd, log_path
    start = time.monotonic()
    host0, ours0 = _busy_seconds()
    pending = b""
    timed_out = False
    http = HttpLoad(http_port, arch, run.system) if http_port else None
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
                    if http:
                        http.line(line, run.mode)
            if not timed_out:
                try:
                    proc.wait(timeout=10)   # the console closes just before QEMU exits
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    if http:
        http.finish(run, on_figure)
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
