"""Which Linux figure stands beside which Manifold figure.

Each pair is (label, Manifold figure, Linux figure, what the Linux side
does). A Manifold figure may stand beside several Linux figures (one row
each); a Linux figure beside one Manifold figure. Every Manifold figure named here must be printed by every complete
Manifold boot: one that is not makes `make bench` fail (report.problems),
and the report lists its Linux figure as waiting for it. When a Manifold
benchmark is renamed, change the name here.
The Linux programs are in bench/linux/.
"""
import fnmatch

PAIRS = [
    ("counter read", "counter.overhead", "counter.overhead",
     "two back-to-back counter reads (subtracted from every other figure)"),
    ("null syscall", "syscall.null", "syscall.getppid",
     "getppid(): the shortest real system call"),
    ("yield, alone", "syscall.yield_alone", "sched.yield_alone",
     "sched_yield() with nothing else runnable"),
    ("yield ping-pong", "syscall.yield_pingpong", "sched.yield_pingpong_threads",
     "two threads yielding to each other; one round trip"),
    ("IPC, same VAS", "ipc.call_reply_same_vas", "ipc.pipe_threads.null",
     "one byte to an echo thread and back through two pipes"),
    # The LRPC paper's four calls made as endpoint IPC to a server in its
    # own VAS, against a round trip to an echo process with the same sizes.
    ("IPC Null, cross VAS", "ipc.null", "ipc.pipe_processes.null",
     "one byte to an echo process and back through two pipes"),
    ("IPC Add, cross VAS", "ipc.add", "ipc.pipe_processes.add",
     "the same with 16 bytes in, 8 bytes back"),
    ("IPC BigIn, cross VAS", "ipc.bigin", "ipc.pipe_processes.bigin",
     "the same with 200 bytes in, 1 byte back"),
    ("IPC BigInOut, cross VAS", "ipc.biginout", "ipc.pipe_processes.biginout",
     "the same with 200 bytes each way"),
    ("user pager fault", "pager.fault_resume", "uffd.fault_resume_4k",
     "userfaultfd: fault, handler thread's UFFDIO_COPY, resume"),
    ("user fault, in-thread handler", "exception.fault_resume", "signal.segv_mprotect_4k",
     "SIGSEGV on a PROT_NONE page, the handler mprotect()s it writable, sigreturn, the store resumes"),
    ("first-touch fault", "vm.fault_zero_fill", "vm.fault_first_touch_4k",
     "a store to an untouched anonymous page (kernel zero-fill)"),
    ("map+unmap 4 KiB", "frame.map_unmap_4k", "vm.mmap_munmap_4k",
     "mmap(MAP_POPULATE) and munmap of an existing memfd page"),
    ("map+unmap 2 MiB", "frame.map_unmap_2m", "vm.mmap_munmap_2m",
     "the same with a hugetlb memfd page (one PMD entry)"),
    ("thread create", "thread.create", "thread.create_join",
     "pthread_create of an empty thread and pthread_join"),
    ("signal ping-pong", "notification.signal_wait_pingpong", "sync.futex_pingpong_threads",
     "FUTEX_WAKE / FUTEX_WAIT round trip between two threads"),
    ("barrier, 2 threads", "barrier.episode_2threads", "sync.pthread_barrier_2threads",
     "one pthread_barrier_wait episode with two threads on one CPU"),
    ("HTTP requests/s (more is better)", "http.requests_per_s", "http.requests_per_s",
     "the same page from Linux's TCP/IP stack and virtio-net driver, the host's client timing both"),
    # Debian's criu on a process with the same marked pages (bench/linux/ckpt.c):
    # its own --display-stats times, converted to the counter's unit.
    ("checkpoint frozen, 1 MiB", "ckpt.frozen_1mib", "ckpt.frozen_1mib",
     "criu dump of a process with 1 MiB of marked pages: its frozen time (tasks seized to killed, the "
     "memory written meanwhile)"),
    ("checkpoint frozen, 16 MiB", "ckpt.frozen_16mib", "ckpt.frozen_16mib",
     "the same with 16 MiB"),
    ("checkpoint restore, 1 MiB", "ckpt.restore_1mib", "ckpt.restore_1mib",
     "criu restore -d of that image: its restore time (image read to tasks restored); the restored "
     "process checks every page"),
    ("checkpoint restore, 16 MiB", "ckpt.restore_16mib", "ckpt.restore_16mib",
     "the same with 16 MiB"),
    ("pages saved/s (more is better)", "ckpt.save_pages_per_s", "ckpt.save_pages_per_s",
     "16 MiB: criu's pages written over its frozen time"),
    ("pages restored/s (more is better)", "ckpt.restore_pages_per_s", "ckpt.restore_pages_per_s",
     "16 MiB: criu's pages restored over its restore time"),
]

# Figures the host measures on its own clock (tools/bench/boot.py, HttpLoad):
# only in wall-clock boots, never under -icount.
WALLCLOCK_ONLY = {"http.requests_per_s"}

# Why a Manifold figure has no Linux column (fnmatch patterns, first match).
# Only figures not in PAIRS are looked up here: a pair always wins.
NO_LINUX = [
    ("thread.retype_create", "Linux has no thread object made from untyped memory; "
     "thread.create (the object reused) stands beside pthread_create + pthread_join"),
    ("vas.switch*", "Linux cannot switch a thread to another address space except by switching threads"),
    ("vas.*", "Linux has no address-space object separate from a process"),
    ("seg.*", "Linux has no segment object that attaches to several address spaces"),
    ("cap.*", "Linux has no capability derivation tree"),
    ("gups.*", "SpaceJMP's GUPS needs several address spaces per thread"),
    ("share.*", "needs an address space shared by pointer between processes (SpaceJMP)"),
    ("lrpc.*", "Linux has no LRPC; the same calls as IPC (ipc.null, ...) stand beside pipe round trips"),
    # The kernel's SMP figures (kernel/smp_bench.c: <kind>.<algorithm>.cpusN).
    ("lock.*.cpus*", "lock throughput across CPUs; Linux runs on one CPU here"),
    ("barrier.*.cpus*", "barriers across CPUs; Linux runs on one CPU here"),
    ("dsm.*", "distributed shared memory has no Linux counterpart here"),
    ("frame.map_unmap_32_*", "batched secure bindings against single ones, both Manifold's (docs/exokernel.md)"),
    ("net.demux.*", "the kernel's packet-filter demultiplexer, measured inside the kernel (docs/exokernel.md)"),
    ("split.*", "a call between the halves of one split process; MANA's Linux version switches FS with a "
     "system call (arch_prctl), which split.call_tls_by_syscall stands for"),
    ("ckpt.*_cow_*", "a copy-on-write snapshot; criu has none (its nearest, pre-dump iterations with soft-dirty "
     "tracking before the final dump, is not measured here)"),
]

# The Manifold figures that have a Linux counterpart, each once.
PAIRED = list(dict.fromkeys(m for _, m, _, _ in PAIRS))
MANIFOLD_FOR = {l: m for _, m, l, _ in PAIRS}
LINUX_WHAT = {l: what for _, _, l, what in PAIRS}
# Every figure the Linux initramfs is expected to print.
LINUX_EXPECTED = [l for _, _, l, _ in PAIRS]


def why_no_linux(name):
    if name in PAIRED:
        return None
    for pattern, reason in NO_LINUX:
        if fnmatch.fnmatchcase(name, pattern):
            return reason
    return "no Linux counterpart listed in tools/bench/pairs.py"
