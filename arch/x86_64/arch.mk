# x86_64 build fragment, included by the top-level Makefile.
CROSS :=
ARCH_CFLAGS := -m64 -march=x86-64 -mno-red-zone -mno-mmx -mno-sse -mno-sse2 -mno-avx \
               -mcmodel=kernel -fno-pic -fno-pie
ARCH_USER_CFLAGS := -m64 -march=x86-64 -mno-sse -mno-mmx -fno-pic -fno-pie
ARCH_KERNEL_SRCS := $(wildcard arch/x86_64/*.c) $(wildcard arch/x86_64/*.asm)
ARCH_USER_SRCS := $(wildcard user/lib/arch/x86_64/*.S)
KERNEL_IMAGE := $(BUILD)/manifold-x86_64.elf
QEMU := qemu-system-x86_64

# The ISO carries the ELF itself; GRUB loads it with multiboot2.
$(KERNEL_IMAGE): $(BUILD)/kernel.elf
	cp $< $@

# The same test ISO once more through UEFI firmware (OVMF): the ISO boots
# by BIOS and by UEFI, and both are tested.
# Then the PCID stage under Bochs (below). The syscall fuzzer makes its
# 100,000 calls in the first run (user/tests/fuzz_tests.c); the other runs
# of the suite make fewer (fuzz_calls=), enough to exercise that firmware
# or CPU model without doubling the time.
ARCH_TEST_EXTRA = QEMU_FIRMWARE=uefi QEMU_KERNEL_OPTIONS="fuzz_calls=20000 $(QEMU_KERNEL_OPTIONS)" tools/qemu test $(ARCH) $(TEST_ISO) > $(BUILD)/test-uefi.out 2>&1 || \
    { cat $(BUILD)/test-uefi.out; exit 1; }; tail -1 $(BUILD)/test-uefi.out; \
    $(MAKE) --no-print-directory test-bochs-arch

# Tagged address-space switching (PCID) runs only where the CPU has PCID:
# under Bochs, since QEMU's TCG has none (tools/bochs, docs/testing.md). The
# test suite boots three times: Haswell (PCID and INVPCID), Sandy Bridge
# (PCID without INVPCID: the flush fallbacks), and Haswell with tlbtags=off
# on the kernel command line (the untagged comparison path), set through
# the mode disk (tools/modedisk.py).
.PHONY: test-bochs-arch
test-bochs-arch:
	@$(MAKE) --no-print-directory $(ISO)
	BOCHS_OPTIONS=fuzz_calls=4000 tools/bochs test $(ISO)
	BOCHS_CPU=corei7_sandy_bridge_2600k BOCHS_OPTIONS=fuzz_calls=4000 tools/bochs test $(ISO)
	BOCHS_OPTIONS="tlbtags=off fuzz_calls=4000" tools/bochs test $(ISO)
