// PCI device and IRQ capabilities, and the ivshmem driver (docs/devices.md).
//
// Under QEMU, tools/qemu attaches an ivshmem-doorbell device (served by
// tools/ivshmem-server) and an ivshmem-plain one, writes a magic word and a
// nonce at the start of each one's shared memory, and puts `ivshmem=1` on
// the kernel command line: then the ivshmem tests must find both, and the
// host checks afterwards what they wrote. Without `ivshmem=1` (Bochs, or
// a QEMU started by hand) those tests are skipped.
#include "manifold.h"
#include "ivshmem.h"
#include "virtio_blk.h"
#include "blk.h"
#include "utest.h"
#include "test_disk.h"
#include "lib/fmt.h"
#include "lib/string.h"
#include "user/root/root.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 3)
// Slots used by these tests.
#define DEV_RO 3960
#define IRQ 3961
#define IRQ2 3962
#define NTFN 3963
#define EP 3964
#define SPARE 3965

// What tools/qemu writes at the start of each ivshmem region, and what the
// guest answers with (the host checks it after the run).
#define HOST_MAGIC 0x4d414e49464f4c44ul     // "DLOFINAM" little-endian: "MANIFOLD" reversed
#define GUEST_DONE 0x454e4f44ul             // "DONE"
#define PATTERN_STRIDE (64u << 10)
#define GOLDEN 0x9e3779b97f4a7c15ul

static long type_of(long slot) { return mf_cnode_identify(ROOT, slot) & 0xff; }

static unsigned device_count(void)
{
    struct mf_system_info si;
    return mf_system_info(&si) == 0 ? si.device_count : 0;
}

static bool ivshmem_required(void)
{
    struct mf_system_info si;
    if (mf_system_info(&si))
        return false;
    for (const char *p = si.cmdline; *p; p++)
        if ((p == si.cmdline || p[-1] == ' ') && strncmp(p, "ivshmem=1", 9) == 0 && (p[9] == ' ' || !p[9]))
            return true;
    return false;
}

// The BAR holding the device's MSI-X table (from its capability list), or -1.
static int msix_table_bar(long dev)
{
    if (!(mf_pci_config_read(dev, 0x06, 2) & 0x10))
        return -1;
    long p = mf_pci_config_read(dev, 0x34, 1) & 0xfc;
    for (int n = 0; p >= 0x40 && n < 48; n++) {
        if (mf_pci_config_read(dev, (unsigned)p, 1) == 0x11)
            return (int)(mf_pci_config_read(dev, (unsigned)p + 4, 4) & 7);
        p = mf_pci_config_read(dev, (unsigned)p + 1, 1) & 0xfc;
    }
    return -1;
}

// The first device cap with a memory BAR of at least a page that is not
// its MSI-X BAR (any machine has one: VGA on x86_64, virtio on aarch64),
// or -1; *bar gets its index. Not a NIC the kernel drives.
static long device_with_memory_bar(unsigned *bar, struct mf_pci_bar *info)
{
    for (unsigned i = 0; i < device_count(); i++)
        for (unsigned b = 0; b < MF_PCI_BAR_COUNT; b++)
            if (!mf_pci_is_virtio_net(MF_CAP_DEVICE_BASE + i) && (int)b != msix_table_bar(MF_CAP_DEVICE_BASE + i) &&
                mf_pci_bar_info(MF_CAP_DEVICE_BASE + i, b, info) == 0 && (info->flags & MF_PCI_BAR_MEM) &&
                info->size >= 4096 && info->base && !(info->base & 4095)) {
                *bar = b;
                return MF_CAP_DEVICE_BASE + i;
            }
    return -1;
}

// A device cap whose interrupt the kernel routed (GET_IRQ works), or -1.
static long device_with_irq(void)
{
    for (unsigned i = 0; i < device_count(); i++) {
        long d = MF_CAP_DEVICE_BASE + i;
        if (mf_pci_get_irq(d, ROOT, IRQ) == 0) {
            mf_cnode_delete(ROOT, IRQ);
            return d;
        }
    }
    return -1;
}

UTEST(pci_devices_enumerated)
{
    unsigned n = device_count();
    UCHECK(n > 0 && n <= MF_DEVICE_MAX);
    for (unsigned i = 0; i < n; i++) {
        long d = MF_CAP_DEVICE_BASE + i;
        UCHECK(type_of(d) == MF_OBJ_PCI_DEVICE);
        long vendor = mf_pci_config_read(d, MF_PCI_VENDOR_ID, 2);
        UCHECK(vendor > 0 && vendor < 0xffff);
        // The 32-bit read agrees with the two 16-bit ones.
        long id = mf_pci_config_read(d, 0, 4);
        UCHECK(id == (vendor | mf_pci_config_read(d, MF_PCI_DEVICE_ID, 2) << 16));
    }
    if (n < MF_DEVICE_MAX)
        UCHECK(type_of(MF_CAP_DEVICE_BASE + n) == MF_OBJ_NULL);
    return NULL;
}

UTEST(pci_config_and_command_errors)
{
    long d = MF_CAP_DEVICE_BASE;
    UCHECK(mf_pci_config_read(d, 0, 3) == -E_INVAL);            // no such width
    UCHECK(mf_pci_config_read(d, 2, 4) == -E_INVAL);            // misaligned
    UCHECK(mf_pci_config_read(d, 256, 1) == -E_RANGE);          // past the header space
    UCHECK(mf_pci_config_read(3999, 0, 4) == -E_BADCAP);        // forged: empty slot
    UCHECK(mf_pci_config_read(100000, 0, 4) == -E_BADCAP);      // out of the CSpace
    UCHECK(mf_invoke(d, 7, 0, 0, 0, 0) == -E_NOSYS);            // no such operation
    UCHECK(mf_pci_set_command(d, 0x8) == -E_INVAL);             // special cycles: not a safe bit
    UCHECK(mf_pci_set_command(d, 0x100) == -E_INVAL);           // SERR enable: neither
    struct mf_pci_bar info;
    UCHECK(mf_pci_bar_info(d, 6, &info) == -E_RANGE);
    UCHECK(mf_pci_bar_info(d, 0, (struct mf_pci_bar *)16) == -E_FAULT);
    return NULL;
}

UTEST(pci_rights_are_enforced)
{
    long d = MF_CAP_DEVICE_BASE;
    UCHECK(mf_cnode_copy(ROOT, d, DEV_RO, MF_RIGHT_READ) == 0);
    UCHECK(type_of(DEV_RO) == MF_OBJ_PCI_DEVICE);
    UCHECK(mf_pci_config_read(DEV_RO, 0, 4) == mf_pci_config_read(d, 0, 4));
    UCHECK(mf_pci_set_command(DEV_RO, MF_PCI_COMMAND_MEMORY) == -E_PERM);
    UCHECK(mf_pci_map_bar(DEV_RO, 0, 0, 0, 4096, MF_DEVICE_WINDOW_BASE) == -E_PERM);
    UCHECK(mf_pci_get_irq(DEV_RO, ROOT, IRQ) == -E_PERM);
    // Device caps are not made from memory: retype refuses the types.
    UCHECK(mf_untyped_retype(UT, MF_OBJ_PCI_DEVICE, 0, 1, ROOT, SPARE) == -E_INVAL);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_IRQ, 0, 1, ROOT, SPARE) == -E_INVAL);
    // Write-only: config reads are refused.
    UCHECK(mf_cnode_delete(ROOT, DEV_RO) == 0);
    UCHECK(mf_cnode_copy(ROOT, d, DEV_RO, MF_RIGHT_WRITE) == 0);
    UCHECK(mf_pci_config_read(DEV_RO, 0, 4) == -E_PERM);
    UCHECK(mf_cnode_delete(ROOT, DEV_RO) == 0);
    return NULL;
}

UTEST(pci_map_bar_errors)
{
    unsigned bar;
    struct mf_pci_bar info;
    const uint64_t va = MF_DEVICE_WINDOW_END - (4ul << 20);
    // Errors any machine can show: the host bridge has no BARs.
    UCHECK(mf_pci_map_bar(MF_CAP_DEVICE_BASE, 6, 0, 0, 4096, va) == -E_RANGE);   // no BAR 6
    if (mf_pci_bar_info(MF_CAP_DEVICE_BASE, 0, &info) == 0 && info.size == 0)
        UCHECK(mf_pci_map_bar(MF_CAP_DEVICE_BASE, 0, 0, 0, 4096, va) == -E_INVAL);   // absent
    // An I/O BAR, where some device has one, cannot be mapped; nor can any
    // BAR of a NIC the kernel drives (docs/exokernel.md).
    for (unsigned i = 0; i < device_count(); i++) {
        long dev = MF_CAP_DEVICE_BASE + i;
        bool nic = mf_pci_is_virtio_net(dev);
        for (unsigned b = 0; b < MF_PCI_BAR_COUNT; b++)
            if (mf_pci_bar_info(dev, b, &info) == 0 && info.size && (nic || !(info.flags & MF_PCI_BAR_MEM)))
                UCHECK(mf_pci_map_bar(dev, b, 0, 0, 4096, va) == (nic ? -E_BUSY : -E_INVAL));
    }
    long d = device_with_memory_bar(&bar, &info);
    if (d < 0) {
        // Bochs' i440FX has no PCI device with memory: QEMU always has.
        UCHECK(!ivshmem_required());
        return "SKIP no PCI memory BAR on this machine (the error checks without one passed)";
    }
    UCHECK(mf_pci_map_bar(d, 6, 0, 0, 4096, va) == -E_RANGE);                    // no BAR 6
    UCHECK(mf_pci_map_bar(d, bar, 1u << 12, 0, 4096, va) == -E_INVAL);           // unknown flag
    UCHECK(mf_pci_map_bar(d, bar, 0, 100, 4096, va) == -E_INVAL);                // offset not page aligned
    UCHECK(mf_pci_map_bar(d, bar, 0, 0, 100, va) == -E_INVAL);                   // size not page aligned
    UCHECK(mf_pci_map_bar(d, bar, 0, 0, 0, va) == -E_INVAL);                     // nothing
    UCHECK(mf_pci_map_bar(d, bar, 0, info.size, 4096, va) == -E_RANGE);          // past the BAR
    UCHECK(mf_pci_map_bar(d, bar, 0, 0, info.size + 4096, va) == -E_RANGE);
    UCHECK(mf_pci_map_bar(d, bar, 0, 0, 4096, 0x400000) == -E_RANGE);            // our code, not the window
    UCHECK(mf_pci_map_bar(d, bar, 0, 0, 4096, MF_DEVICE_WINDOW_END) == -E_RANGE);
    UCHECK(mf_pci_map_bar(d, bar, 0, 0, 4096, 1ul << 40) == -E_RANGE);          // above the home region
    if (!(info.flags & MF_PCI_BAR_PREFETCH))
        UCHECK(mf_pci_map_bar(d, bar, MF_PCI_MAP_CACHED, 0, 4096, va) == -E_INVAL);   // registers uncached
    // The page of an MSI-X table is the kernel's: the device's messages
    // come from there (x86_64 QEMU: ivshmem-doorbell; aarch64: virtio too).
    for (unsigned i = 0; i < device_count(); i++) {
        int t = msix_table_bar(MF_CAP_DEVICE_BASE + i);
        if (t >= 0 && !mf_pci_is_virtio_net(MF_CAP_DEVICE_BASE + i))     // (a NIC's: -E_BUSY, above)
            UCHECK(mf_pci_map_bar(MF_CAP_DEVICE_BASE + i, (unsigned)t, 0, 0, 4096, va) == -E_PERM);
    }
    // A real mapping, then the same place again: busy; unmapping only what
    // this BAR maps.
    UCHECK(mf_pci_map_bar(d, bar, MF_PCI_MAP_READONLY, 0, 4096, va) == 0);
    UCHECK(mf_pci_map_bar(d, bar, 0, 0, 4096, va) == -E_BUSY);
    UCHECK(mf_pci_unmap_bar(d, bar, va + 4096, 4096) == 0);                        // nothing there: fine
    UCHECK(mf_pci_unmap_bar(d, bar, va, 4096) == 0);
    UCHECK(mf_pci_map_bar(d, bar, 0, 0, 4096, va) == 0);                           // free again
    UCHECK(mf_pci_unmap_bar(d, bar, va, 4096) == 0);
    return NULL;
}

UTEST(irq_cap_errors)
{
    long d = device_with_irq();
    UCHECK(d > 0);
    UCHECK(mf_pci_get_irq(d, MF_CAP_DEVICE_BASE, 1) == -E_TYPE);     // destination is no CNode
    UCHECK(mf_pci_get_irq(d, ROOT, 1 << MF_ROOT_CNODE_BITS) == -E_RANGE);
    UCHECK(mf_pci_get_irq(d, ROOT, MF_CAP_SELF_CNODE) == -E_BUSY);   // occupied
    // The host bridge (first device) has no interrupt pin.
    if (mf_pci_config_read(MF_CAP_DEVICE_BASE, MF_PCI_INTR_PIN, 1) == 0)
        UCHECK(mf_pci_get_irq(MF_CAP_DEVICE_BASE, ROOT, IRQ) == -E_NOENT);
    UCHECK(mf_pci_get_irq(d, ROOT, IRQ) == 0);
    UCHECK(type_of(IRQ) == MF_OBJ_IRQ);
    UCHECK(mf_irq_ack(IRQ) == -E_INVAL);                              // not bound
    UCHECK(mf_irq_unbind(IRQ) == -E_INVAL);
    UCHECK(mf_irq_bind(IRQ, 3999) == -E_BADCAP);
    UCHECK(mf_irq_bind(IRQ, UT) == -E_TYPE);                          // an untyped is no notification
    UCHECK(mf_untyped_retype(UT, MF_OBJ_ENDPOINT, 0, 1, ROOT, EP) == 0);
    UCHECK(mf_irq_bind(IRQ, EP) == -E_TYPE);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_NOTIFICATION, 0, 1, ROOT, NTFN) == 0);
    UCHECK(mf_cnode_copy(ROOT, NTFN, SPARE, MF_RIGHT_READ) == 0);
    UCHECK(mf_irq_bind(IRQ, SPARE) == -E_PERM);                       // cannot signal through it
    UCHECK(mf_invoke(IRQ, 7, 0, 0, 0, 0) == -E_NOSYS);
    UCHECK(mf_cnode_copy(ROOT, IRQ, IRQ2, MF_RIGHT_READ) == 0);
    UCHECK(mf_irq_bind(IRQ2, NTFN) == -E_PERM);                       // read-only IRQ cap
    UCHECK(mf_irq_bind(IRQ, NTFN) == 0);
    UCHECK(mf_irq_bind(IRQ, NTFN) == -E_BUSY);                        // bound already
    UCHECK(mf_irq_ack(IRQ) == 0);
    UCHECK((mf_irq_info(IRQ2) & 0xffffff) > 0);                      // a GSI, vector or INTID
    // Deleting the notification unbinds; deleting the IRQ caps leaves the
    // device cap as it was.
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    UCHECK(mf_irq_ack(IRQ) == -E_INVAL);
    UCHECK(mf_cnode_delete(ROOT, IRQ2) == 0 && mf_cnode_delete(ROOT, IRQ) == 0);
    UCHECK(type_of(d) == MF_OBJ_PCI_DEVICE);
    return NULL;
}

UTEST(notification_wait_timeout)
{
    UCHECK(mf_untyped_retype(UT, MF_OBJ_NOTIFICATION, 0, 1, ROOT, NTFN) == 0);
    UCHECK(mf_notification_wait_timeout(NTFN, 0) == -E_INVAL);
    long t0 = mf_time();
    UCHECK(mf_notification_wait_timeout(NTFN, 3) == -E_AGAIN);
    long waited = mf_time() - t0;
    UCHECK(waited >= 3 && waited < 50);
    UCHECK(mf_notification_signal(NTFN) == 0);
    UCHECK(mf_notification_wait_timeout(NTFN, 1000) == 1);            // at once
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    return NULL;
}

// Each region: the host's magic and nonce at 0 and 8; the guest writes a
// word derived from the nonce every PATTERN_STRIDE bytes from 4096 on, and
// GUEST_DONE at 16 last. tools/qemu checks the file after the run.
static const char *write_pattern(struct ivshmem *dev)
{
    volatile uint64_t *w = (volatile uint64_t *)dev->shm;
    UCHECK(dev->size >= (1u << 20));
    UCHECK(w[0] == HOST_MAGIC);
    uint64_t nonce = w[1];
    UCHECK(nonce != 0);
    for (uint64_t off = 4096, k = 1; off < dev->size; off += PATTERN_STRIDE, k++)
        w[off / 8] = nonce ^ (k * GOLDEN);
    for (uint64_t off = 4096, k = 1; off < dev->size; off += PATTERN_STRIDE, k++)
        UCHECK(w[off / 8] == (nonce ^ (k * GOLDEN)));
    w[2] = GUEST_DONE;
    return NULL;
}

UTEST(ivshmem_shared_memory_reaches_host)
{
    unsigned n = ivshmem_count();
    if (n == 0) {
        UCHECK(!ivshmem_required());
        return "SKIP no ivshmem device (not asked for: ivshmem=1 is not on the command line)";
    }
    UCHECK(!ivshmem_required() || n >= 2);     // tools/qemu attaches doorbell and plain
    bool saw_plain = false, saw_doorbell = false;
    for (unsigned i = 0; i < n; i++) {
        struct ivshmem dev;
        UCHECK(ivshmem_open(&dev, i) == 0);
        UCHECK(dev.shm && dev.size);
        // Memory decoding is on now (EDK2 on aarch64 leaves it off).
        UCHECK(mf_pci_config_read(dev.device, MF_PCI_COMMAND, 2) & MF_PCI_COMMAND_MEMORY);
        const char *why = write_pattern(&dev);
        if (dev.has_doorbell) {
            saw_doorbell = true;
            UCHECK(dev.peer_id >= 0 && dev.peer_id < 65536);
        } else {
            saw_plain = true;
            UCHECK(dev.peer_id == -1);
            UCHECK(ivshmem_ring(&dev, 0, 0) == -E_INVAL);
            UCHECK(ivshmem_wait(&dev, 1) == -E_INVAL);
        }
        ivshmem_close(&dev);
        if (why)
            return why;
    }
    UCHECK(!ivshmem_required() || (saw_plain && saw_doorbell));
    UCHECK(ivshmem_open(&(struct ivshmem){0}, n) == -E_NOENT);
    return NULL;
}

UTEST(ivshmem_doorbell_interrupts)
{
    struct ivshmem dev = {0};
    unsigned n = ivshmem_count(), i;
    for (i = 0; i < n; i++) {
        UCHECK(ivshmem_open(&dev, i) == 0);
        if (dev.has_doorbell)
            break;
        ivshmem_close(&dev);
    }
    if (i == n) {
        UCHECK(!ivshmem_required());
        return "SKIP no ivshmem-doorbell device (ivshmem=1 is not on the command line)";
    }
    const char *why = NULL;
    long irq_before = mf_irq_info(dev.irq) >> 32;
    // Nothing rung: no interrupt, the wait times out.
    if (ivshmem_wait(&dev, 5) != -E_AGAIN)
        why = "a wait with nothing rung did not time out";
    else if (ivshmem_ring(&dev, 65536, 0) != -E_RANGE)
        why = "peer 65536 was accepted";
    // Ring ourselves: the server gave us our own eventfds, so the device
    // raises INTx, the kernel signals the notification, the wait returns.
    enum { RUNS = 21 };
    uint64_t cycles[RUNS];
    for (unsigned k = 0; k < RUNS && !why; k++) {
        uint64_t t0 = mf_arch_cycles();
        if (ivshmem_ring(&dev, (unsigned)dev.peer_id, 0) != 0)
            why = "ring failed";
        else if (ivshmem_wait(&dev, 200) != 0)
            why = "no interrupt within 2 s of ringing our own doorbell";
        cycles[k] = mf_arch_cycles() - t0;
    }
    long delivered = (mf_irq_info(dev.irq) >> 32) - irq_before;
    // While its MSI-X line is bound, memory decoding and bus mastering stay on.
    if (!why && dev.msi && mf_pci_set_command(dev.device, MF_PCI_COMMAND_MEMORY) != -E_BUSY)
        why = "bus mastering could be turned off under a bound MSI-X line";
    if (!why && (delivered < RUNS || dev.interrupts != RUNS))
        why = "fewer interrupts delivered than rung";
    if (!why) {
        mf_bench_report("ivshmem.self_ring_interrupt", "cycles", cycles, RUNS, NULL);
    }
    ivshmem_close(&dev);
    return why;
}

// INTx end to end, with the e1000 NIC QEMU gives x86_64 by default (and
// tools/qemu adds on aarch64): its Interrupt Cause Set register raises a
// cause, and with that cause enabled in the mask the device asserts its
// level-triggered INTA. Reading the cause register (ICR) deasserts it. The
// kernel masks the line on delivery; the ack unmasks it; no interrupt may
// come without a cause set (nor again after the ICR read).
#define E1000_ICR 0x00c0
#define E1000_ICS 0x00c8
#define E1000_IMS 0x00d0
#define E1000_IMC 0x00d8
#define E1000_CAUSE_LSC 0x4     // link status change

static long find_e1000(void)
{
    for (unsigned i = 0; i < device_count(); i++) {
        long d = MF_CAP_DEVICE_BASE + i;
        if (mf_pci_config_read(d, 0, 4) == 0x100e8086)
            return d;
    }
    return -1;
}

static const char *intx_rounds(volatile uint32_t *regs, long irq)
{
    regs[E1000_IMC / 4] = ~0u;                      // no cause raises INTA
    (void)regs[E1000_ICR / 4];
    UCHECK(mf_irq_bind(irq, NTFN) == 0);
    UCHECK(mf_notification_wait_timeout(NTFN, 5) == -E_AGAIN);  // nothing pending
    regs[E1000_IMS / 4] = E1000_CAUSE_LSC;
    for (int round = 0; round < 3; round++) {
        long before = mf_irq_info(irq) >> 32;
        regs[E1000_ICS / 4] = E1000_CAUSE_LSC;      // assert INTA
        UCHECK(mf_notification_wait_timeout(NTFN, 200) == 1);
        UCHECK((mf_irq_info(irq) >> 32) == before + 1);
        // Still asserted but masked: nothing more until the ack.
        UCHECK(mf_notification_wait_timeout(NTFN, 3) == -E_AGAIN);
        UCHECK(regs[E1000_ICR / 4] & E1000_CAUSE_LSC);     // read clears: deasserted
        UCHECK(mf_irq_ack(irq) == 0);
        UCHECK(mf_notification_wait_timeout(NTFN, 3) == -E_AGAIN);
        UCHECK((mf_irq_info(irq) >> 32) == before + 1);
    }
    // Asserted while unbound: the line stays masked; binding again delivers it.
    UCHECK(mf_irq_unbind(irq) == 0);
    regs[E1000_ICS / 4] = E1000_CAUSE_LSC;
    UCHECK(mf_notification_wait_timeout(NTFN, 3) == -E_AGAIN);
    UCHECK(mf_irq_bind(irq, NTFN) == 0);
    UCHECK(mf_notification_wait_timeout(NTFN, 200) == 1);
    regs[E1000_IMC / 4] = ~0u;
    (void)regs[E1000_ICR / 4];
    UCHECK(mf_irq_ack(irq) == 0);
    return NULL;
}

UTEST(intx_interrupt_delivery)
{
    long d = find_e1000();
    if (d < 0) {
        UCHECK(!ivshmem_required());                // tools/qemu's runs all have one
        return "SKIP no e1000 to raise INTx with (Bochs)";
    }
    UCHECK(mf_pci_config_read(d, MF_PCI_INTR_PIN, 1) == 1);
    UCHECK(mf_pci_get_irq(d, ROOT, IRQ) == 0);
    UCHECK((mf_irq_info(IRQ) & MF_IRQ_INFO_MSI) == 0);
    struct mf_pci_bar bar;
    UCHECK(mf_pci_bar_info(d, 0, &bar) == 0 && (bar.flags & MF_PCI_BAR_MEM) && bar.size >= 4096);
    uint64_t va = mf_device_va_alloc(4096);
    UCHECK(va);
    long cmd = mf_pci_config_read(d, MF_PCI_COMMAND, 2);
    UCHECK(cmd >= 0);
    UCHECK(mf_pci_set_command(d, ((unsigned)cmd & MF_PCI_COMMAND_SAFE & ~MF_PCI_COMMAND_INTX_OFF) |
                                     MF_PCI_COMMAND_MEMORY) >= 0);
    UCHECK(mf_pci_map_bar(d, 0, 0, 0, 4096, va) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_NOTIFICATION, 0, 1, ROOT, NTFN) == 0);
    const char *why = intx_rounds((volatile uint32_t *)va, IRQ);
    mf_cnode_delete(ROOT, IRQ);
    mf_pci_unmap_bar(d, 0, va, 4096);
    mf_device_va_free(va, 4096);
    mf_cnode_revoke(ROOT, UT);
    return why;
}

// The driver in a program started like the shell's `run` does it: the
// program sees the devices through the caps it was given, maps them in its
// own home, rings its own doorbell, and leaves the last device mapped and
// its IRQ bound when it ends (arg bit 0). Its address space goes then, and
// the device pages in it must not reach the page allocator (which would
// panic: they are not RAM); free memory afterwards is what it was before.
UTEST(ivshmem_from_a_program)
{
    if (ivshmem_count() == 0) {
        UCHECK(!ivshmem_required());
        return "SKIP no ivshmem device (ivshmem=1 is not on the command line)";
    }
    const long ut = MF_CAP_UNTYPED_BASE + 1, cnode = 3901;
    const uint64_t arg = 0x5eed;
    struct mf_system_info a, b;
    UCHECK(mf_system_info(&a) == 0);
    long tid = spawn_with_resources("ivshmem_user", arg, ut, cnode);
    UCHECK(tid > 0);
    struct mf_exit_status st;
    UCHECK(mf_wait(tid, &st) == 0);
    UCHECK(st.how == EXIT_NORMAL && st.code == 0);
    UCHECK(mf_cnode_revoke(MF_CAP_SELF_CNODE, ut) == 0);
    UCHECK(mf_system_info(&b) == 0);
    UCHECK(a.memory_free == b.memory_free);
    for (unsigned i = 0; i < ivshmem_count(); i++) {
        struct ivshmem dev;
        UCHECK(ivshmem_open(&dev, i) == 0);
        volatile uint64_t *w = (volatile uint64_t *)dev.shm;
        bool seen = w[3] == (w[1] ^ arg);
        ivshmem_close(&dev);
        UCHECK(seen);
    }
    return NULL;
}

// ------------------------------------------------------------ virtio-blk
// The user-level virtio-blk driver (user/lib/virtio_blk.c) on the data
// disk tools/qemu gives every test run (8 MiB of zeros, serial
// "manifold-data"): a fresh disk reads zero; what is written reads back,
// whole and in part, at the first, a middle and the last sector; requests
// outside the disk or too long are refused; what was written is still
// there for a second driver instance. tools/qemu then checks sector 100
// in the image file from the host. MF_PCI_DMA_ADDRESS: only with a device
// cap that may act, only for a frame held with WRITE.

#define BLK_BASE 0xa0000000ul
#define BLK_SECTOR_MARKED 100

static void blk_fill(uint8_t *buf, uint64_t first, unsigned count)
{
    for (unsigned s = 0; s < count; s++) {
        uint8_t *p = buf + s * VIRTIO_BLK_SECTOR;
        for (unsigned k = 0; k < VIRTIO_BLK_SECTOR; k++)
            p[k] = (uint8_t)((first + s) * 7 + k);
        snprintf((char *)p, 32, "manifold-blk s=%u", (unsigned)(first + s));
    }
}

UTEST(virtio_blk_user_driver_reads_back_what_it_wrote)
{
    long dev = virtio_blk_find("manifold-data", 0);
    if (dev < 0)
        return "SKIP no virtio-blk disk with serial manifold-data (tools/qemu gives one)";
    static uint8_t out[4096], in[4096];
    static struct virtio_blk b;
    // The DMA address refusals, and the answer for a frame of ours.
    long frame = mf_new(MF_OBJ_FRAME, 12), ro = frame < 0 ? frame : mf_copy(frame, MF_RIGHT_READ);
    UCHECK(frame > 0 && ro > 0);
    UCHECK(mf_pci_dma_address(dev, ro) == -E_PERM);
    UCHECK(mf_pci_dma_address(dev, ROOT) == -E_TYPE);
    long dma = mf_pci_dma_address(dev, frame);
    UCHECK(dma > 0 && (dma & 4095) == 0);
    UCHECK(mf_cnode_copy(ROOT, dev, DEV_RO, MF_RIGHT_READ) == 0);
    UCHECK(mf_pci_dma_address(DEV_RO, frame) == -E_PERM);
    UCHECK(mf_cnode_delete(ROOT, DEV_RO) == 0);
    long nic = mf_virtio_net_nic(0);
    UCHECK(nic < 0 || mf_pci_dma_address(nic, frame) == -E_BUSY);     // the kernel drives NICs
    mf_slot_free(ro);
    mf_slot_free(frame);

    UCHECK(virtio_blk_open(&b, dev, BLK_BASE) == 0);
    UCHECK(b.capacity == TEST_DISK_SECTORS && strcmp(b.serial, "manifold-data") == 0);
    const uint64_t last = b.capacity - 1;
    UCHECK(virtio_blk_read(&b, 0, in, 8) == 0);
    for (unsigned k = 0; k < sizeof(in); k++)
        UCHECK(in[k] == 0);
    blk_fill(out, BLK_SECTOR_MARKED, 8);
    UCHECK(virtio_blk_write(&b, BLK_SECTOR_MARKED, out, 8) == 0);
    blk_fill(out + 7 * VIRTIO_BLK_SECTOR, last, 1);
    UCHECK(virtio_blk_write(&b, last, out + 7 * VIRTIO_BLK_SECTOR, 1) == 0);
    UCHECK(virtio_blk_read(&b, BLK_SECTOR_MARKED + 3, in, 2) == 0);
    blk_fill(out, BLK_SECTOR_MARKED + 3, 2);
    UCHECK(memcmp(in, out, 2 * VIRTIO_BLK_SECTOR) == 0);
    UCHECK(virtio_blk_read(&b, last, in, 1) == 0);
    blk_fill(out, last, 1);
    UCHECK(memcmp(in, out, VIRTIO_BLK_SECTOR) == 0);
    UCHECK(virtio_blk_read(&b, b.capacity, in, 1) == -E_RANGE);
    UCHECK(virtio_blk_read(&b, last, in, 2) == -E_RANGE);
    UCHECK(virtio_blk_read(&b, 0, in, VIRTIO_BLK_MAX_SECTORS + 1) == -E_RANGE);
    UCHECK(virtio_blk_write(&b, 0, out, 0) == -E_RANGE);
    UCHECK(b.errors == 0);
    // Completion came by MSI-X interrupt (QEMU's virtio-blk-pci has it).
    UCHECK(b.notification > 0 && (uint64_t)mf_irq_info(b.irq) >> 32 >= 4);
    virtio_blk_close(&b);
    // A second instance of the driver finds it all on the device.
    UCHECK(virtio_blk_open(&b, dev, BLK_BASE) == 0);
    UCHECK(virtio_blk_read(&b, BLK_SECTOR_MARKED, in, 8) == 0);
    blk_fill(out, BLK_SECTOR_MARKED, 8);
    bool same = memcmp(in, out, sizeof(out)) == 0;
    virtio_blk_close(&b);
    UCHECK(same);
    printf("# virtio-blk: %s, %llu sectors, %llu requests\n", b.serial, (unsigned long long)b.capacity,
           (unsigned long long)b.requests);
    return NULL;
}

// The block service (user/programs/blkd.c) over the same disk: two clients
// (this thread with two frames) attach through the name service's "blk",
// each through its own session cap; what one writes the other reads; the
// public cap only attaches; a request outside the disk is refused; a
// client that revokes its frame fails its own request and nothing else
// (the server goes on serving the other session); a detached session's
// cap is revoked by the server (a copy the client made goes too).
#define BLKD_UT (MF_CAP_UNTYPED_BASE + 1)
#define BLKD_CNODE 3902
#define BLK_SERVICE 3966
#define BLK_SESSION_A 3967
#define BLK_SESSION_B 3968
#define BLK_SESSION_COPY 3969

// The client revokes the frame it lent: the server itself must answer
// -E_BADCAP (its copy went with the revocation), and live on.
static bool blk_server_refuses(long session, uint64_t sector, long frame)
{
    if (mf_cnode_revoke(ROOT, frame) != 0 || mf_cnode_delete(ROOT, frame) != 0)
        return false;
    struct mf_msg m = {.info = MF_INFO(MF_BLK_READ, 2), .mr = {sector, 1}};
    return mf_call(session, &m) >= 0 && (long)m.mr[0] == -E_BADCAP;
}

UTEST(block_service_serves_sessions_by_capability)
{
    if (virtio_blk_find("manifold-data", 0) < 0)
        return "SKIP no virtio-blk disk with serial manifold-data (tools/qemu gives one)";
    long server = spawn_with_resources("blkd", 0, BLKD_UT, BLKD_CNODE);
    UCHECK(server > 0);
    long found = -E_NOENT;
    for (long end = mf_time() + 500; found == -E_NOENT && mf_time() < end; mf_sleep(1))
        found = mf_ns_lookup(NS_ENDPOINT, MF_BLK_NAME, BLK_SERVICE);
    static struct mf_blk a, b;
    static uint8_t out[4096], in[4096];
    long fa = mf_new(MF_OBJ_FRAME, 12), fb = mf_new(MF_OBJ_FRAME, 12);
    const char *why = NULL;
    if (found != 0 || fa < 0 || fb < 0)
        why = found != 0 ? mf_strerror(found) : "no frames";
    else if (mf_blk_attach(&a, BLK_SERVICE, fa, BLK_SESSION_A) != 0 ||
             mf_blk_attach(&b, BLK_SERVICE, fb, BLK_SESSION_B) != 0)
        why = "attach failed";
    else if (a.capacity != TEST_DISK_SECTORS)
        why = "wrong capacity";
    if (!why) {
        struct mf_msg m = {.info = MF_INFO(MF_BLK_READ, 2), .mr = {0, 1}};
        blk_fill(out, 300, 8);
        if (mf_blk_write(&a, 300, out, 8) != 0 || mf_blk_read(&b, 300, in, 8) != 0 || memcmp(in, out, 4096) != 0)
            why = "B did not read what A wrote";
        else if (mf_call(BLK_SERVICE, &m) < 0 || (long)m.mr[0] != -E_PERM)
            why = "the public cap did more than attach";
        else if (mf_blk_read(&a, TEST_DISK_SECTORS, in, 1) != -E_RANGE ||
                 mf_blk_read(&a, TEST_DISK_SECTORS - 2, in, 3) != -E_RANGE)
            why = "a request outside the disk was served";
        else if (!blk_server_refuses(a.session, 300, fa))
            why = "a revoked frame still served (or the server did not say so)";
        else if (mf_blk_read(&b, 307, in, 1) != 0 || memcmp(in, out + 7 * 512, 512) != 0)
            why = "the other session stopped working";
        else if (mf_cnode_copy(ROOT, b.session, BLK_SESSION_COPY, MF_RIGHT_WRITE) != 0 || mf_blk_detach(&b) != 0 ||
                 mf_cnode_identify(ROOT, BLK_SESSION_COPY) != MF_OBJ_NULL)
            why = "the session outlived its detach (a copy of its cap survived the server's revoke)";
    }
    mf_kill(server);
    struct mf_exit_status st;
    mf_wait(server, &st);
    // Killed, blkd left the disk running: stopped before its memory is reused.
    test_disk_stop_device(BLK_BASE);
    mf_cnode_delete(ROOT, BLK_SERVICE);
    mf_cnode_delete(ROOT, BLK_SESSION_A);
    mf_cnode_delete(ROOT, BLK_SESSION_B);
    if (fa > 0)
        mf_slot_free(fa);
    if (fb > 0)
        mf_slot_free(fb);
    UCHECK(mf_cnode_revoke(ROOT, BLKD_UT) == 0);
    return why;
}
