// The data disk tools/qemu gives a test run (serial manifold-data, 8 MiB:
// DATA_DISK_BYTES there), through the block service blkd, for tests whose
// images outlive the boot (tools/qemu boots the machine a second time on
// the same disk with `ckpt-reboot` on the command line, docs/testing.md)
// and for the DSM's page-out area. Where each image lives, in 512-byte
// sectors:
//
//   [100], [300, 308)     device tests' marks (user/tests/device_tests.c)
//   [1024, 4096)          a process's checkpoint image (ckpt_tests.c)
//   [4096, 8184)          the DSM repository (dsm_repository_tests.c)
//   [8192, 16376)         the DSM page-out area (dsm_pageout_tests.c):
//                         scratch, rewritten by every run that pages out
//   [16383]               the virtio-blk test's mark on the last sector
//
// (The stores move 4 KiB chunks, so the repository and the page-out area
// stop at the chunk before the next user's.)
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "ckpt.h"

#define TEST_DISK_CKPT_SECTOR 1024
#define TEST_DISK_DSM_SECTOR 4096
#define TEST_DISK_DSM_END 8184
#define TEST_DISK_PAGEOUT_SECTOR 8192
#define TEST_DISK_PAGEOUT_END 16376
#define TEST_DISK_SECTORS 16384         // the whole disk (tools/qemu's DATA_DISK_BYTES / 512)

// Starts blkd, attaches to it and makes *st a store on sectors
// [first, end); NULL, or why not ("SKIP ..." without the disk). Call
// test_disk_close afterwards either way.
const char *test_disk_open(uint64_t first, uint64_t end, struct mf_ckpt_store *st);
// Detaches, ends blkd and stops the disk (opening resets it).
void test_disk_close(void);
// Stops the data disk's device, which a killed blkd leaves running, before
// the memory it pointed the device at (from `base`) is reused: opening it
// resets it first.
void test_disk_stop_device(uint64_t base);
// Whether this is the second boot tools/qemu makes on the same disk.
bool test_disk_second_boot(void);
