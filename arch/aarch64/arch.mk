# aarch64 build fragment, included by the top-level Makefile (after BUILD is
# set). The kernel is one ELF linked at KERNEL_BASE (linker/aarch64-kernel.ld);
# objcopy -O binary turns it into a PE/COFF EFI application — the header is
# hand-written in head.S — which GRUB starts with `linux`.

CROSS := aarch64-linux-gnu-

# -mgeneral-regs-only: no FP/SIMD in the kernel (no FP state to save on traps).
# -fno-pic -fno-pie: Debian's compiler defaults to PIE. The boot stub runs
#   before the MMU switch at the physical load address; that works because
#   non-PIC small-model code reaches every symbol PC-relatively (adrp+add)
#   and there is no GOT (the linker script asserts it).
# -mcmodel=small: the image is far smaller than the 4 GiB adrp reach.
# -mno-outline-atomics: inline atomics, no libgcc helpers reading a global
#   that only a C runtime initialises.
# No -mstrict-align: no C code runs with the MMU off and SCTLR_EL1.A = 0, so
#   unaligned accesses to Normal memory are fine (never to Device memory).
ARCH_CFLAGS := -mgeneral-regs-only -mcmodel=small -fno-pic -fno-pie \
	-mno-outline-atomics -mbranch-protection=none -fno-unwind-tables
ARCH_USER_CFLAGS := -mgeneral-regs-only -fno-pic -fno-pie -mno-outline-atomics \
	-mbranch-protection=none -fno-unwind-tables

ARCH_KERNEL_SRCS := $(wildcard arch/aarch64/*.c) $(wildcard arch/aarch64/*.S)
ARCH_USER_SRCS := $(wildcard user/lib/arch/aarch64/*.S)
QEMU := qemu-system-aarch64

# The bootable image: the ELF's loadable bytes from KERNEL_BASE, PE header at
# offset 0, .bss left to the loader (SizeOfImage covers it). The image is never
# relocated, so a dynamic relocation would be a bug.
KERNEL_IMAGE := $(BUILD)/manifold-aarch64.efi
define ARCH_MKIMAGE
	@if $(CROSS)readelf -rW $(1) | grep -q 'R_AARCH64_RELATIVE\|R_AARCH64_GLOB_DAT'; then \
	    echo "$(1): dynamic relocations in the kernel image" >&2; exit 1; fi
	$(CROSS)objcopy -O binary $(1) $(2)
	@test "$$(head -c 2 $(2))" = "MZ" || { echo "$(2): no PE header" >&2; rm -f $(2); exit 1; }
endef

$(KERNEL_IMAGE): $(BUILD)/kernel.elf
	$(call ARCH_MKIMAGE,$<,$@)

# The same test ISO once more on GICv3 and `-cpu max` (PAN, LSE, ARMv8.5+):
# the default run covers GICv2 on a cortex-a72 (ARMv8.0, no PAN).
ARCH_TEST_EXTRA = QEMU_GIC=3 QEMU_CPU=max QEMU_KERNEL_OPTIONS="fuzz_calls=20000 $(QEMU_KERNEL_OPTIONS)" tools/qemu test $(ARCH) $(TEST_ISO) > $(BUILD)/test-gicv3-max.out 2>&1 || \
    { cat $(BUILD)/test-gicv3-max.out; exit 1; }; tail -1 $(BUILD)/test-gicv3-max.out
