# Manifold: make [ARCH=x86_64|aarch64] [all|iso|run|test|bench|fuzz|debug|clean|deps|cluster-demo]
#
#   make run            boot the ISO in QEMU with the serial console on this terminal
#   make test           build both architectures and run every test under QEMU
#   make bench          run the benchmark suite (see docs/benchmarks.md)
#   make cluster-demo   an x86_64 and an aarch64 instance sharing one DSM over ivshmem (tools/cluster)
#
# Both `run` and `test` call `deps` first, which installs missing Debian
# packages (and nothing when everything is present).

ARCH ?= x86_64
ARCHES := x86_64 aarch64
BUILD := build/$(ARCH)
MODE ?= shell

include arch/$(ARCH)/arch.mk
# arch.mk defines rules first; `make` alone still means the ISO.
.DEFAULT_GOAL := all

CC := $(CROSS)gcc
LD := $(CROSS)ld
AR := $(CROSS)ar
NM := $(CROSS)nm
OBJCOPY := $(CROSS)objcopy

GCC_INCLUDE := $(shell $(CC) -print-file-name=include)
COMMON_CFLAGS := -std=gnu11 -ffreestanding -nostdinc -isystem $(GCC_INCLUDE) -I. -Ilib/arch/$(ARCH) \
    -fno-stack-protector -fno-builtin -fno-omit-frame-pointer -fno-common \
    -fno-asynchronous-unwind-tables -fno-toplevel-reorder -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
    -MMD -MP
# arch/$(ARCH)/include: headers kernel/ includes by name, each architecture
# its own (inline trap-frame access: arch_syscall_regs.h).
KERNEL_CFLAGS := $(COMMON_CFLAGS) $(ARCH_CFLAGS) -DMANIFOLD_KERNEL -Iarch/$(ARCH)/include
USER_CFLAGS := $(COMMON_CFLAGS) $(ARCH_USER_CFLAGS) -Iuser/lib

LIB_SRCS := $(wildcard lib/*.c)
KERNEL_SRCS := $(wildcard kernel/*.c) $(LIB_SRCS) $(ARCH_KERNEL_SRCS)
KERNEL_OBJS := $(patsubst %,$(BUILD)/kernel-objs/%.o,$(basename $(KERNEL_SRCS)))

USER_LIB_SRCS := $(wildcard user/lib/*.c) $(LIB_SRCS) $(ARCH_USER_SRCS)
USER_LIB_OBJS := $(patsubst %,$(BUILD)/user-objs/%.o,$(basename $(USER_LIB_SRCS)))
ROOT_SRCS := $(wildcard user/root/*.c) $(wildcard user/tests/*.c) $(wildcard user/dsm/*.c)
ROOT_OBJS := $(patsubst %,$(BUILD)/user-objs/%.o,$(basename $(ROOT_SRCS)))
PROGRAMS := $(basename $(notdir $(wildcard user/programs/*.c)))
USER_ELFS := $(BUILD)/user/root.elf $(patsubst %,$(BUILD)/user/%.elf,$(PROGRAMS))
# Modules that are deliberately not valid programs (loader tests).
DATA_MODULES := $(wildcard user/data/*)

# One ISO for both architectures (see the ISO section); the modes share it.
ISO := build/manifold.iso
TEST_ISO := $(ISO)
BENCH_ISO := $(ISO)
CRASH_ISO := $(ISO)

.PHONY: all iso iso-parts run test test-arch test-bochs bench debug clean deps host-test model-check \
    cluster-demo test-cluster bench-cluster fuzz
all: $(ISO)
iso: $(ISO)

# ------------------------------------------------------------------ kernel
$(BUILD)/kernel-objs/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/kernel-objs/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(CC) $(KERNEL_CFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(BUILD)/kernel-objs/%.o: %.asm
	@mkdir -p $(dir $@)
	@echo "  NASM    $<"
	@nasm -f elf64 -g -F dwarf $< -o $@

KERNEL_LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack -T linker/$(ARCH)-kernel.ld
LIBGCC := $(shell $(CC) $(ARCH_CFLAGS) -print-libgcc-file-name)

# Two links: the first one's text symbols become the second one's .ksyms.
$(BUILD)/kernel.pass1.elf: $(KERNEL_OBJS) linker/$(ARCH)-kernel.ld
	$(LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS) $(LIBGCC)

$(BUILD)/ksyms.S: $(BUILD)/kernel.pass1.elf tools/mksyms
	tools/mksyms $(NM) $< > $@

$(BUILD)/ksyms.o: $(BUILD)/ksyms.S
	@echo "  CC      $<"
	@$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/kernel.elf: $(KERNEL_OBJS) $(BUILD)/ksyms.o linker/$(ARCH)-kernel.ld
	$(LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS) $(BUILD)/ksyms.o $(LIBGCC)
	@$(NM) $(BUILD)/kernel.pass1.elf | grep -i ' t ' | sort > $(BUILD)/text1.syms
	@$(NM) $@ | grep -i ' t ' | sort > $(BUILD)/text2.syms
	@cmp -s $(BUILD)/text1.syms $(BUILD)/text2.syms || { echo "kernel text moved between links"; exit 1; }

# ---------------------------------------------------------------- user
$(BUILD)/user-objs/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (user)"
	@$(CC) $(USER_CFLAGS) -c $< -o $@

$(BUILD)/user-objs/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $< (user)"
	@$(CC) $(USER_CFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(BUILD)/libmanifold.a: $(USER_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

USER_LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack -T linker/$(ARCH)-user.ld

$(BUILD)/user/root.elf: $(ROOT_OBJS) $(BUILD)/libmanifold.a linker/$(ARCH)-user.ld
	@mkdir -p $(dir $@)
	$(LD) $(USER_LDFLAGS) --defsym=USER_BASE=0x400000 -o $@ $(ROOT_OBJS) $(BUILD)/libmanifold.a $(LIBGCC)

# Each program at an address of its own, 8 MiB apart from 8 MiB up in the
# order of their names (the root task stays at 4 MiB): a breakpoint set by
# address in one program does not fire in another (README, "Debugging").
# Relinked when the list of programs changes (their addresses move).
PROGRAM_LIST := $(BUILD)/programs.list
$(shell mkdir -p $(BUILD); echo '$(sort $(PROGRAMS))' | cmp -s - $(PROGRAM_LIST) 2>/dev/null || \
    echo '$(sort $(PROGRAMS))' > $(PROGRAM_LIST))
PROGRAM_BASE = $(shell n=0; for p in $(sort $(PROGRAMS)); do n=$$((n + 1)); \
    [ $$p = $(1) ] && printf '0x%x' $$(((n + 1) * 0x800000)); done)

# Lower halves of split processes (docs/split.md) start at the function
# that publishes their entry table, not at _start.
LOWER_HALVES := split_lower
$(BUILD)/user/%.elf: $(BUILD)/user-objs/user/programs/%.o $(BUILD)/libmanifold.a linker/$(ARCH)-user.ld \
    $(PROGRAM_LIST)
	@mkdir -p $(dir $@)
	$(LD) $(USER_LDFLAGS) --defsym=USER_BASE=$(call PROGRAM_BASE,$*) $(if $(filter $*,$(LOWER_HALVES)),-e mf_lower_entry) \
	    -o $@ $< $(BUILD)/libmanifold.a $(LIBGCC)

# The fuzzer (user/programs/fuzz.c) links its parts in user/fuzz/ too.
FUZZ_OBJS := $(patsubst %,$(BUILD)/user-objs/%.o,$(basename $(wildcard user/fuzz/*.c)))
$(BUILD)/user/fuzz.elf: $(BUILD)/user-objs/user/programs/fuzz.o $(FUZZ_OBJS) $(BUILD)/libmanifold.a \
    linker/$(ARCH)-user.ld $(PROGRAM_LIST)
	@mkdir -p $(dir $@)
	$(LD) $(USER_LDFLAGS) --defsym=USER_BASE=$(call PROGRAM_BASE,fuzz) -o $@ $< $(FUZZ_OBJS) $(BUILD)/libmanifold.a $(LIBGCC)

# --------------------------------------------------------- the library OS
# lwIP comes from Debian's source package (tools/fetch-source unpacks it in
# build/src; it is never committed) and is compiled for each architecture
# with the library OS's port (user/libos/include: lwipopts.h, arch/cc.h,
# and the few C headers lwIP includes, on libmanifold). The programs in
# LIBOS_PROGRAMS link it with user/libos/*.c (docs/exokernel.md).
LWIP_VERSION := lwip-2.1.3
LWIP_DIR := build/src/$(LWIP_VERSION)
LWIP_SRCS := $(patsubst %,src/core/%.c,init def inet_chksum ip mem memp netif pbuf stats sys tcp tcp_in tcp_out \
    timeouts udp) $(patsubst %,src/core/ipv4/%.c,etharp icmp ip4 ip4_addr ip4_frag) src/netif/ethernet.c
LWIP_OBJS := $(patsubst %.c,$(BUILD)/lwip-objs/%.o,$(LWIP_SRCS))
LIBOS_CFLAGS := $(USER_CFLAGS) -Iuser/libos -Iuser/libos/include -Iuser/libos/include/shim -I$(LWIP_DIR)/src/include
LIBOS_OBJS := $(patsubst %,$(BUILD)/libos-objs/%.o,$(basename $(wildcard user/libos/*.c)))
LIBOS_PROGRAMS := $(filter libos_net,$(PROGRAMS))     # the programs that use the network stack

$(LWIP_DIR)/.unpacked: tools/fetch-source
	@tools/fetch-source lwip $(LWIP_VERSION) build/src

# Third-party code: built with our flags, less the warnings its style trips.
$(BUILD)/lwip-objs/%.o: $(LWIP_DIR)/.unpacked
	@mkdir -p $(dir $@)
	@echo "  CC      $(LWIP_VERSION)/$*.c (lwIP)"
	@$(CC) $(LIBOS_CFLAGS) -Wno-sign-compare -Wno-type-limits -Wno-missing-field-initializers \
	    -Wno-implicit-fallthrough -c $(LWIP_DIR)/$*.c -o $@

$(BUILD)/liblwip.a: $(LWIP_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libos-objs/%.o: %.c $(LWIP_DIR)/.unpacked
	@mkdir -p $(dir $@)
	@echo "  CC      $< (libos)"
	@$(CC) $(LIBOS_CFLAGS) -c $< -o $@

$(patsubst %,$(BUILD)/user/%.elf,$(LIBOS_PROGRAMS)): $(BUILD)/user/%.elf: $(BUILD)/libos-objs/user/programs/%.o \
    $(LIBOS_OBJS) $(BUILD)/liblwip.a $(BUILD)/libmanifold.a linker/$(ARCH)-user.ld $(PROGRAM_LIST)
	@mkdir -p $(dir $@)
	$(LD) $(USER_LDFLAGS) --defsym=USER_BASE=$(call PROGRAM_BASE,$*) -o $@ $< $(LIBOS_OBJS) $(BUILD)/liblwip.a \
	    $(BUILD)/libmanifold.a $(LIBGCC)

# ------------------------------------------------------------------- ISO
# One ISO for both architectures: each one's kernel, user programs and data
# modules, and GRUB for BIOS, x86_64-EFI and arm64-EFI, whose grub.cfg
# boots the kernel of the machine it runs on (iso/mkiso, iso/mkgrubcfg).
# `make run` boots it as it is; `make test` and `make bench` boot the same
# ISO with a small mode disk attached (tools/modedisk.py) that selects the
# mode. Building it builds both architectures (ARCH only picks what `run`,
# `debug` and `test-arch` boot).
PARTS := $(BUILD)/iso-parts

# This architecture's part of the ISO, staged with its files' times kept.
iso-parts: $(KERNEL_IMAGE) $(USER_ELFS) $(DATA_MODULES)
	@rm -rf $(PARTS)
	@mkdir -p $(PARTS)/user
	@cp -p $(KERNEL_IMAGE) $(PARTS)/
	@cp -p $(USER_ELFS) $(DATA_MODULES) $(PARTS)/user/

# Always asks both architectures' builds (each is a no-op when up to date);
# iso/mkiso rebuilds the ISO only when a part changed.
$(ISO): FORCE
	@for a in $(ARCHES); do $(MAKE) --no-print-directory ARCH=$$a iso-parts || exit 1; done
	@iso/mkiso $@

.PHONY: FORCE
FORCE:

# --------------------------------------------------------------- running
deps:
	@tools/deps

# KERNEL_OPTIONS: extra kernel command-line words (sched=fcfs, tlbtags=off, ...).
run: deps
	@$(MAKE) --no-print-directory $(ISO)
	QEMU_KERNEL_OPTIONS="$(KERNEL_OPTIONS)" tools/qemu run $(ARCH) $(ISO)

# GDB on 127.0.0.1:$(GDB_PORT), with the symbols of the kernel, the root
# task and every program (each linked at its own address, so they do not
# overlap); PROGRAM=NAME loads only that program's (README, "Debugging").
GDB_PORT ?= 1234
debug: deps
	@tools/deps --debug
	@$(MAKE) --no-print-directory $(ISO)
	@echo "QEMU waits for GDB: gdb-multiarch -x $(BUILD)/gdbinit   (in another terminal)"
	@{ echo "set confirm off"; echo "file $(BUILD)/kernel.elf"; \
	   for p in root $(if $(PROGRAM),$(PROGRAM),$(PROGRAMS)); do \
	       echo "add-symbol-file $(BUILD)/user/$$p.elf"; done; \
	   echo "set confirm on"; echo "target remote 127.0.0.1:$(GDB_PORT)"; } > $(BUILD)/gdbinit
	QEMU_KERNEL_OPTIONS="$(KERNEL_OPTIONS)" GDB_PORT=$(GDB_PORT) tools/qemu debug $(ARCH) $(ISO)

# Build and test every architecture; the overall status fails if any does.
test: deps host-test model-check
	@status=0; for a in $(ARCHES); do \
	    $(MAKE) --no-print-directory ARCH=$$a test-arch || status=1; \
	done; \
	$(MAKE) --no-print-directory test-cluster || status=1; exit $$status

# The suite, the interactive shell driven over the serial line
# (tools/shell-test: jobs, kill, Ctrl-C, line editing), one gdb session
# breaking in both halves of a split process (tools/gdb-split), then a
# deliberate kernel fault whose panic report is checked.
test-arch:
	@$(MAKE) --no-print-directory $(ISO)
	tools/qemu test $(ARCH) $(TEST_ISO)
	tools/shell-test $(ARCH) $(ISO)
	tools/gdb-split --check $(ARCH)
	$(ARCH_TEST_EXTRA)
	tools/qemu panic-check $(ARCH) $(CRASH_ISO)

# Tagged (PCID) switching on x86_64 under Bochs (arch/x86_64/arch.mk,
# tools/bochs); the x86_64 test-arch runs it too.
test-bochs: deps
	@$(MAKE) --no-print-directory ARCH=x86_64 test-bochs-arch

host-test: host-test-sync
	@mkdir -p build/host
	cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
	    -Dsnprintf=mf_snprintf -Dvsnprintf=mf_vsnprintf \
	    tools/host-tests/test_lib.c lib/elf.c lib/fmt.c -o build/host/test_lib
	build/host/test_lib
	cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined -fno-builtin \
	    -Dmemcpy=lib_memcpy -Dmemmove=lib_memmove -Dmemset=lib_memset -Dmemcmp=lib_memcmp \
	    -Dstrlen=lib_strlen -Dstrnlen=lib_strnlen -Dstrcmp=lib_strcmp -Dstrncmp=lib_strncmp \
	    -Dstrchr=lib_strchr -Dstrlcpy=lib_strlcpy \
	    -c lib/string.c -o build/host/lib_string.o
	cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
	    tools/host-tests/test_string.c build/host/lib_string.o -o build/host/test_string
	build/host/test_string
	tools/host-tests/test_ivshmem_server.py
	tools/host-tests/test_bench_report.py
	tools/host-tests/test_ckpt_inspect.py

# lib/spinlock.c and lib/barrier.c on host threads (docs/sync.md): with
# ThreadSanitizer, plain -O2, and -O2 with the real cpu_relax of the host
# architecture on 2 threads (the first two yield in spin loops instead:
# lib/arch/host/sync_arch.h).
.PHONY: host-test-sync
SYNC_TEST_SRCS := tools/host-tests/test_sync.c lib/spinlock.c lib/barrier.c
SYNC_TEST_CFLAGS := -std=gnu11 -g -Wall -Wextra -Werror -I. -pthread
host-test-sync:
	@mkdir -p build/host
	cc $(SYNC_TEST_CFLAGS) -O1 -fsanitize=thread -Ilib/arch/host $(SYNC_TEST_SRCS) -o build/host/test_sync_tsan
	cc $(SYNC_TEST_CFLAGS) -O2 -Ilib/arch/host $(SYNC_TEST_SRCS) -o build/host/test_sync
	cc $(SYNC_TEST_CFLAGS) -O2 -Ilib/arch/$(shell uname -m) $(SYNC_TEST_SRCS) -o build/host/test_sync_relax
	build/host/test_sync_tsan -q -s 4
	build/host/test_sync -q
	build/host/test_sync_relax -q -t 2 -s 30

# The DSM's strong protocol as a Promela model checked with spin
# (user/dsm/strong.pml, tools/model-check): exhaustive searches, then two
# deliberate bugs the searches must catch. About 20 s.
model-check: deps
	tools/model-check user/dsm/strong.pml build/model

# The system-call fuzzer alone (docs/testing.md, "Fuzzing"): four fuzzing
# programs at once with seeds SEED..SEED+3, CALLS calls in all per
# architecture, then the leak check; a panic, a hang (no output for
# QEMU_STALL seconds), a program that did not end well or a leak fails it.
# `make test` runs the same test with 100,000 calls.
SEED ?= 1
CALLS ?= 1000000
fuzz: deps
	@if [ "$(origin ARCH)" = "command line" ]; then arches="$(ARCH)"; else arches="$(ARCHES)"; fi; \
	status=0; for a in $$arches; do \
	    $(MAKE) --no-print-directory all || exit 1; \
	    QEMU_KERNEL_OPTIONS="tests=fuzz_ fuzz_seed=$(SEED) fuzz_calls=$(CALLS)" tools/qemu test $$a $(ISO) \
	        || status=1; \
	done; exit $$status

# Benchmarks (docs/benchmarks.md): Manifold and Debian's Linux on the same
# QEMU, under -icount and on the wall clock, into results/ARCH/. Every
# architecture is run; the status fails if any run was incomplete, a figure
# printed "verified":false, or a complete Manifold run lacked a figure that
# tools/bench/pairs.py pairs with Linux (`tools/bench/run ARCH --check`
# judges existing results). If the ISO does not build, Linux is still
# measured and the report says so.
bench: deps
	@if [ "$(origin ARCH)" = "command line" ]; then arches="$(ARCH)"; else arches="$(ARCHES)"; fi; \
	status=0; for a in $$arches; do $(MAKE) --no-print-directory ARCH=$$a bench-arch || status=1; done; \
	if [ "$(origin ARCH)" != "command line" ]; then $(MAKE) --no-print-directory bench-cluster || status=1; fi; \
	exit $$status

.PHONY: bench-arch
bench-arch:
	@$(MAKE) --no-print-directory $(BENCH_ISO) || { rm -f $(BENCH_ISO); echo "bench: no $(ARCH) ISO"; }
	@$(MAKE) --no-print-directory -f bench/linux/linux.mk ARCH=$(ARCH)
	tools/qemu bench $(ARCH) $(BENCH_ISO)

# DSM across machines (docs/dsm.md "Across machines", tools/cluster): QEMU
# instances of the ISOs, one DSM node each, linked by ivshmem. CLUSTER
# lists the instances' architectures, any mix, at most 4.
CLUSTER ?= x86_64 aarch64
cluster-demo: deps
	@$(MAKE) --no-print-directory all
	tools/cluster --doorbell $(CLUSTER)

# Part of `make test`, after both architectures' suites: Jacobi on an
# x86_64 and an aarch64 instance, with interrupts (ivshmem-doorbell) and by
# polling (ivshmem-plain), each checked against both instances' single-node
# runs; three instances of which one powers off mid-run (the others must
# declare it dead within the bound, its page must fail, theirs work); then
# interrupted runs must leave no QEMU behind. About 40 s.
test-cluster:
	@$(MAKE) --no-print-directory all
	tools/cluster --quiet --doorbell --timeout 180 --log-dir build/cluster/test-doorbell x86_64 aarch64
	tools/cluster --quiet --timeout 180 --log-dir build/cluster/test-plain aarch64 x86_64
	tools/cluster --quiet --doorbell --app deadpeer --timeout 180 --log-dir build/cluster/test-deadpeer \
	    x86_64 aarch64 x86_64
	tools/cluster-cleanup-test x86_64

# Cross-instance benchmarks (docs/benchmarks.md "Across instances"): BENCH
# lines from 2 instances each way, 4 instances, and 2 without a doorbell,
# into results/cluster/bench.txt. About a minute.
bench-cluster: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p results/cluster
	@status=0; rm -f results/cluster/bench.txt; \
	for run in "--doorbell x86_64 aarch64" "--doorbell aarch64 x86_64" \
	           "--doorbell x86_64 aarch64 x86_64 aarch64" "x86_64 aarch64"; do \
	    dir=build/cluster/bench-$$(echo $$run | tr ' ' '_' | tr -d -); \
	    tools/cluster --quiet --app bench --timeout 300 --log-dir $$dir $$run || status=1; \
	    case "$$run" in --doorbell*) wake=doorbell;; *) wake=polling;; esac; \
	    sed "s/}$$/,\"run\":\"$$(echo $$run | sed 's/--doorbell //')\",\"wake\":\"$$wake\"}/" $$dir/bench.txt \
	        >> results/cluster/bench.txt; \
	done; cat results/cluster/bench.txt; exit $$status

clean:
	rm -rf build

-include $(shell find build/$(ARCH) -name '*.d' 2>/dev/null)
