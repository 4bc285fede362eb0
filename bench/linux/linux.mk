# The Linux side of `make bench` for one architecture, run from the top
# directory by the Makefile's bench-arch target:
#
#   make -f bench/linux/linux.mk ARCH=x86_64|aarch64
#
# builds build/linux/ARCH/initramfs.cpio (a static /init running every
# benchmark, the virtio-net modules with /net-modules, their load order;
# /ckpt_victim and Debian's criu with its shared libraries at their
# packages' paths; on aarch64 also pmu_el0.ko), fetches Debian's kernel and
# those modules into build/linux/ARCH/kernel/ (bench/linux/fetch-kernel)
# and criu into build/linux/ARCH/criu/ (bench/linux/fetch-criu).

ARCH ?= x86_64
LINUX_BUILD := build/linux/$(ARCH)
KERNEL_DIR := $(LINUX_BUILD)/kernel
INITRAMFS := $(LINUX_BUILD)/initramfs.cpio

CC_x86_64 := gcc
CC_aarch64 := aarch64-linux-gnu-gcc
LINUX_CC := $(CC_$(ARCH))
LINUX_CFLAGS := -std=gnu11 -O2 -static -pthread -Wall -Wextra -Werror
LINUX_SRCS := $(wildcard bench/linux/*.c)

INIT := $(LINUX_BUILD)/init
VICTIM := $(LINUX_BUILD)/ckpt_victim
CRIU_DIR := $(LINUX_BUILD)/criu
MODULE := $(LINUX_BUILD)/pmu/pmu_el0.ko
RAMFS_FILES := init=$(INIT) ckpt_victim=$(VICTIM) .=$(CRIU_DIR)/root
RAMFS_DEPS := $(INIT) $(VICTIM) $(CRIU_DIR)/version
ifeq ($(ARCH),aarch64)
RAMFS_FILES += pmu_el0.ko=$(MODULE)
RAMFS_DEPS += $(MODULE)
endif

NET_MODULES := $(KERNEL_DIR)/modules/order
CKPT_MODULES := $(KERNEL_DIR)/modules/ckpt-order

.PHONY: all
all: $(INITRAMFS) $(KERNEL_DIR)/version

$(INIT): $(LINUX_SRCS) bench/linux/bench.h bench/linux/linux.mk
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (static, Linux)"
	@$(LINUX_CC) $(LINUX_CFLAGS) -o $@ $(LINUX_SRCS)

$(VICTIM): bench/linux/ckpt/victim.c bench/linux/linux.mk
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (static, Linux)"
	@$(LINUX_CC) $(LINUX_CFLAGS) -o $@ $<

# After the kernel: fetch-kernel adds the foreign architecture apt needs.
$(CRIU_DIR)/version: bench/linux/fetch-criu $(KERNEL_DIR)/version
	bench/linux/fetch-criu $(ARCH) $(CRIU_DIR)

$(KERNEL_DIR)/version $(NET_MODULES) $(CKPT_MODULES) &: bench/linux/fetch-kernel
	bench/linux/fetch-kernel $(ARCH) $(KERNEL_DIR)

# kbuild writes its objects beside the sources: build a copy under build/.
$(MODULE): bench/linux/pmu/pmu_el0.c bench/linux/pmu/Kbuild $(KERNEL_DIR)/version
	@rm -rf $(dir $@) && mkdir -p $(dir $@)
	@cp bench/linux/pmu/pmu_el0.c bench/linux/pmu/Kbuild $(dir $@)
	@echo "  KBUILD  $@"
	@$(MAKE) -s -C $(KERNEL_DIR)/headers M=$(abspath $(dir $@)) ARCH=arm64 \
	    CROSS_COMPILE=aarch64-linux-gnu- modules >$(LINUX_BUILD)/pmu.log 2>&1 || \
	    { cat $(LINUX_BUILD)/pmu.log; exit 1; }
	@# Debug info names the build directory; without it the file is the same
	@# wherever it is built (its size shifts Linux's memory layout a little).
	@aarch64-linux-gnu-strip --strip-debug $@

# Each module once, at /NAME.ko, with the lists of the two groups.
$(INITRAMFS): $(RAMFS_DEPS) $(NET_MODULES) $(CKPT_MODULES) bench/linux/mkinitramfs
	bench/linux/mkinitramfs $@ $(RAMFS_FILES) net-modules=$(NET_MODULES) ckpt-modules=$(CKPT_MODULES) \
	    $$(awk '!seen[$$0]++ { print $$0 "=$(KERNEL_DIR)/modules/" $$0 }' $(NET_MODULES) $(CKPT_MODULES))
