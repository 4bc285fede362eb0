// GIC interrupt controller, v2 and v3 (ARM IHI 0048, IHI 0069): whichever
// the firmware described. The distributor routes shared interrupts (SPIs,
// INTID 32+); per CPU, v2 has a memory-mapped CPU interface and v3 a
// redistributor (SGIs/PPIs, INTID 0-31) plus ICC_* system registers.
//
// UEFI leaves its own configuration behind, so everything is reset: every
// interrupt disabled, not pending, not active, one priority, level-sensitive,
// routed to this CPU; then only the interrupts the kernel uses are enabled.
// All are group 1 on v3 (IRQ at non-secure EL1); on v2 they stay group 0,
// which the CPU interface signals as IRQ (FIQEn = 0) — or, behind a secure
// firmware, whatever group it chose, enabled by the same CTLR bit 0.
#include "arch/aarch64/aarch64.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/vm.h"

// Distributor (both versions).
#define GICD_CTLR       0x0000
#define GICD_TYPER      0x0004      // ITLinesNumber (4:0): 32 * (N + 1) INTIDs
#define GICD_IGROUPR    0x0080      // 1 bit per INTID
#define GICD_ICENABLER  0x0180
#define GICD_ISENABLER  0x0100
#define GICD_ICPENDR    0x0280
#define GICD_ICACTIVER  0x0380
#define GICD_IPRIORITYR 0x0400      // 1 byte per INTID
#define GICD_ITARGETSR  0x0800      // v2: 1 byte (CPU mask) per INTID
#define GICD_ICFGR      0x0c00      // 2 bits per INTID: bit 1 = edge
#define GICD_IGRPMODR   0x0d00      // v3
#define GICD_SGIR       0x0f00      // v2: TargetList (23:16), INTID (3:0)
#define GICD_IROUTER    0x6000      // v3: 8 bytes (affinity) per INTID
#define GICD_CTLR_RWP   (1u << 31)  // v3: register write pending
#define GICD_TYPER_LPIS (1u << 17)  // v3: LPIs supported
#define GICD_CTLR_V3    0x13        // ARE_NS (4) | EnableGrp1A (1) | EnableGrp1 (0)
// v2 CPU interface.
#define GICC_CTLR 0x00
#define GICC_PMR  0x04              // priority mask: signal priorities below this
#define GICC_BPR  0x08
#define GICC_IAR  0x0c              // read = acknowledge; INTID in bits 9:0
#define GICC_EOIR 0x10
#define GICC_APR0 0xd0              // active priorities
// v3 redistributor: RD_base frame, then SGI_base 64 KiB above it.
#define GICR_CTLR        0x0000
#define GICR_TYPER       0x0008     // Affinity (63:32), Last (4), VLPIS (1)
#define GICR_WAKER       0x0014     // ProcessorSleep (1), ChildrenAsleep (2)
#define GICR_SGI         0x10000
#define GICR_CTLR_RWP    (1u << 3)
#define GICR_TYPER_LAST  (1u << 4)
#define GICR_TYPER_VLPIS (1u << 1)  // v4: two more 64 KiB frames per CPU
#define GICR_FRAME_MAX   0x40000
#define WAKER_SLEEP      (1u << 1)
#define WAKER_ASLEEP     (1u << 2)

#define PRIORITY   0xa0             // every interrupt; below the 0xf0 mask
#define PRIORITY_MASK 0xf0

static struct {
    unsigned version;
    uintptr_t dist;
    uintptr_t cpu;          // v2 CPU interface (banked: the same for every CPU)
    paddr_t redist_pa;      // v3: the first redistributor
    size_t redist_size;     // v3: bytes mapped from redist_pa
    unsigned lines;         // INTIDs the distributor implements
} gic;
// v3: each CPU's redistributor is in its struct a64_cpu (gic_redist).

static inline uint32_t rd32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline uint64_t rd64(uintptr_t a) { return *(volatile uint64_t *)a; }
static inline void wr32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void wr64(uintptr_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

static void wait_clear(uintptr_t reg, uint32_t bits, const char *what)
{
    for (unsigned i = 0; i < 1000000; i++)
        if (!(rd32(reg) & bits))
            return;
    panic("gic: %s does not settle", what);
}

unsigned gic_version(void) { return gic.version; }

void gic_map(const struct boot_info *bi)
{
    gic.version = bi->intc_version;
    if (gic.version != 2 && gic.version != 3 && gic.version != 4)
        panic("gic: no GICv2 or v3 described by the firmware (version %u)", gic.version);
    if (gic.version == 4)
        gic.version = 3;            // v4 is v3 plus direct virtual interrupts
    if (!bi->intc_dist_base || !bi->intc_cpu_base)
        panic("gic: firmware gave no distributor or CPU interface address");
    // Without the ICC_* registers (ID_AA64PFR0_EL1.GIC = 0) even reading
    // ICC_SRE_EL1 is undefined.
    if (gic.version == 3 && !a64_feat.gic_sysreg)
        panic("gic: GICv3 but this CPU has no GIC system register interface");
    gic.dist = (uintptr_t)vm_map_device(bi->intc_dist_base, 0x10000);
    if (gic.version == 2) {
        gic.cpu = (uintptr_t)vm_map_device(bi->intc_cpu_base, 0x2000);
        return;
    }
    // Redistributors are contiguous, one per CPU, of 128 or 256 KiB.
    gic.redist_pa = bi->intc_cpu_base;
    gic.redist_size = (bi->cpu_count ? bi->cpu_count : 1) * GICR_FRAME_MAX;
    if (a64_cpu_count > bi->cpu_count)
        gic.redist_size = a64_cpu_count * GICR_FRAME_MAX;
    vm_map_device(gic.redist_pa, gic.redist_size);
}

// Disables, clears and configures INTIDs [first, last) in the distributor
// (SPIs) or in this CPU's banked registers (base = v3 SGI frame or v2 dist).
static void reset_range(uintptr_t base, unsigned first, unsigned last, bool group1)
{
    for (unsigned i = first; i < last; i += 32) {
        wr32(base + GICD_ICENABLER + i / 8, ~0u);
        wr32(base + GICD_ICPENDR + i / 8, ~0u);
        wr32(base + GICD_ICACTIVER + i / 8, ~0u);
        wr32(base + GICD_IGROUPR + i / 8, group1 ? ~0u : 0);
        if (gic.version == 3)
            wr32(base + GICD_IGRPMODR + i / 8, 0);
    }
    for (unsigned i = first; i < last; i += 4)
        wr32(base + GICD_IPRIORITYR + i, PRIORITY * 0x01010101u);
    for (unsigned i = first < 16 ? 16 : first; i < last; i += 16)
        wr32(base + GICD_ICFGR + i / 4, 0);    // level-sensitive (SGIs: fixed)
}

static uint64_t my_affinity(void)
{
    uint64_t mpidr = read_sysreg(mpidr_el1);
    return (mpidr & 0xffffff) | (mpidr >> 32 & 0xff) << 24;   // Aff3.Aff2.Aff1.Aff0
}

static void dist_init(void)
{
    wr32(gic.dist + GICD_CTLR, 0);
    if (gic.version == 3)
        wait_clear(gic.dist + GICD_CTLR, GICD_CTLR_RWP, "distributor");
    unsigned lines = 32 * ((rd32(gic.dist + GICD_TYPER) & 0x1f) + 1);
    if (lines > 1020)
        lines = 1020;
    gic.lines = lines;
    reset_range(gic.dist, 32, lines, gic.version == 3);
    if (gic.version == 2) {
        // ITARGETSR0 (SGIs, read-only) holds this CPU's own target bit.
        uint32_t me = rd32(gic.dist + GICD_ITARGETSR) & 0xff;
        for (unsigned i = 32; i < lines; i += 4)
            wr32(gic.dist + GICD_ITARGETSR + i, me * 0x01010101u);
        wr32(gic.dist + GICD_CTLR, 1);
        return;
    }
    uint64_t aff = my_affinity();
    uint64_t route = (aff & 0xffffff) | (aff >> 24) << 32;
    for (unsigned i = 32; i < lines; i++)
        wr64(gic.dist + GICD_IROUTER + 8 * i, route);
    wait_clear(gic.dist + GICD_CTLR, GICD_CTLR_RWP, "distributor");
    wr32(gic.dist + GICD_CTLR, GICD_CTLR_V3);
    wait_clear(gic.dist + GICD_CTLR, GICD_CTLR_RWP, "distributor");
}

static void cpu_init_v2(void)
{
    // ITARGETSR0 (banked, read-only) holds this CPU interface's own bit.
    a64_this_cpu()->gic_target = rd32(gic.dist + GICD_ITARGETSR) & 0xff;
    reset_range(gic.dist, 0, 32, false);       // SGI/PPI registers are banked per CPU
    wr32(gic.cpu + GICC_PMR, PRIORITY_MASK);
    wr32(gic.cpu + GICC_BPR, 0);
    wr32(gic.cpu + GICC_APR0, 0);              // forget priorities UEFI left active
    wr32(gic.cpu + GICC_CTLR, 1);              // enable; EOImode 0: EOIR also deactivates
}

static void cpu_init_v3(void)
{
    // Find this CPU's redistributor by affinity.
    uint64_t aff = my_affinity();
    uintptr_t rd = (uintptr_t)P2V(gic.redist_pa), end = rd + gic.redist_size;
    for (;;) {
        uint64_t typer = rd64(rd + GICR_TYPER);
        if (typer >> 32 == aff)
            break;
        rd += typer & GICR_TYPER_VLPIS ? 0x40000 : 0x20000;
        if (typer & GICR_TYPER_LAST || rd >= end)
            panic("gic: no redistributor for affinity %#lx", aff);
    }
    a64_this_cpu()->gic_redist = rd;
    wr32(rd + GICR_WAKER, rd32(rd + GICR_WAKER) & ~WAKER_SLEEP);
    wait_clear(rd + GICR_WAKER, WAKER_ASLEEP, "redistributor wake-up");
    reset_range(rd + GICR_SGI, 0, 32, true);
    wait_clear(rd + GICR_CTLR, GICR_CTLR_RWP, "redistributor");

    // The CPU interface through system registers (SRE), which a hypervisor
    // or EL3 may refuse: SRE then reads back 0.
    write_sysreg(icc_sre_el1, read_sysreg(icc_sre_el1) | 1);
    isb();
    if (!(read_sysreg(icc_sre_el1) & 1))
        panic("gic: GICv3 system register interface disabled by a higher EL");
    write_sysreg(icc_pmr_el1, PRIORITY_MASK);
    write_sysreg(icc_bpr1_el1, 0);
    write_sysreg(icc_ctlr_el1, 0);              // EOImode 0: EOIR also deactivates
    write_sysreg(icc_ap1r0_el1, 0);             // forget priorities UEFI left active
    write_sysreg(icc_igrpen1_el1, 1);
    isb();
}

void gic_init_cpu(void)
{
    if (gic.version == 2)
        cpu_init_v2();
    else
        cpu_init_v3();
    for (unsigned k = 0; k < IPI_KINDS; k++)
        gic_enable_ppi(SGI_IPI_FIRST + k);      // SGIs: banked enables like PPIs
}

void gic_init(void)
{
    dist_init();
    gic_init_cpu();
}

void gic_enable_ppi(unsigned intid)
{
    uintptr_t base = gic.version == 2 ? gic.dist : a64_this_cpu()->gic_redist + GICR_SGI;
    wr32(base + GICD_ISENABLER + intid / 32 * 4, 1u << intid % 32);
}

// v2: GICD_SGIR with the target's CPU interface bit. v3: ICC_SGI1R_EL1 =
// Aff3 (55:48), Aff2 (39:32), INTID (27:24), Aff1 (23:16), TargetList
// (15:0: one bit per Aff0 value, so Aff0 < 16 is assumed).
void gic_send_sgi(unsigned cpu, unsigned intid)
{
    dsb(ishst);                                 // what the target will read is visible first
    const struct a64_cpu *t = &a64_cpus[cpu];
    if (gic.version == 2) {
        wr32(gic.dist + GICD_SGIR, (uint32_t)t->gic_target << 16 | intid);
        return;
    }
    uint64_t m = t->mpidr;
    uint64_t v = (m >> 32 & 0xff) << 48 | (m >> 16 & 0xff) << 32 | (uint64_t)intid << 24 |
                 (m >> 8 & 0xff) << 16 | 1ull << (m & 0xf);
    write_sysreg(S3_0_C12_C11_5, v);            // ICC_SGI1R_EL1
    isb();
}

uint32_t gic_acknowledge(void)
{
    if (gic.version == 2)
        return rd32(gic.cpu + GICC_IAR);
    uint32_t iar = (uint32_t)read_sysreg(icc_iar1_el1);
    dsb(sy);                                    // acknowledged before the handler's accesses
    return iar;
}

unsigned gic_intid(uint32_t iar) { return gic.version == 2 ? iar & 0x3ff : iar & 0xffffff; }

void gic_end(uint32_t iar)
{
    if (gic.version == 2) {
        wr32(gic.cpu + GICC_EOIR, iar);         // v2 SGIs need the source CPU bits back
        return;
    }
    write_sysreg(icc_eoir1_el1, iar);
    isb();
}

// Device interrupts (SPIs): reset_range left every SPI disabled,
// level-sensitive, at one priority and routed to the boot CPU, which is
// what a PCI INTx line wants; configure only checks the INTID exists.
bool arch_irq_configure(unsigned intid)
{
    if (intid < 32 || intid >= gic.lines)
        return false;
    arch_irq_mask(intid);
    return true;
}

// LPIs (INTID 8192 and up) have no enable bit here: the device masks its
// MSI-X vector instead (kernel/irq.c).
void arch_irq_mask(unsigned intid)
{
    if (intid < 32 || intid >= gic.lines)
        return;
    wr32(gic.dist + GICD_ICENABLER + intid / 32 * 4, 1u << intid % 32);
    if (gic.version == 3)
        wait_clear(gic.dist + GICD_CTLR, GICD_CTLR_RWP, "distributor");   // disabled before we go on
}

void arch_irq_unmask(unsigned intid)
{
    if (intid < 32 || intid >= gic.lines)
        return;
    wr32(gic.dist + GICD_ISENABLER + intid / 32 * 4, 1u << intid % 32);
}

// Message-signalled interrupts. GICv2: through the GICv2m frame the MADT
// names (QEMU virt: 0x08020000, SPIs from INTID 80): a device writing an
// SPI's INTID to MSI_SETSPI_NS makes that SPI pending; the SPI is made
// edge-triggered, since the write is a pulse. GICv3: through the ITS
// (its.c): the device writes an event number to GITS_TRANSLATER and the
// ITS turns (DeviceID, event) into an LPI for CPU 0.
#define V2M_SETSPI_NS 0x040
static paddr_t v2m_frame;
static unsigned v2m_next, v2m_end;

void gic_msi_init(const struct boot_info *bi)
{
    if (gic.version == 3) {
        if (bi->its_base && (rd32(gic.dist + GICD_TYPER) & GICD_TYPER_LPIS))
            its_init(bi->its_base, a64_cpus[0].gic_redist,
                     gic.redist_pa + (a64_cpus[0].gic_redist - (uintptr_t)P2V(gic.redist_pa)));
        return;
    }
    if (!bi->msi_frame_base)
        return;
    v2m_frame = bi->msi_frame_base;
    v2m_next = bi->msi_spi_base;
    v2m_end = bi->msi_spi_base + bi->msi_spi_count;
}

bool arch_msi_allocate(uint32_t bdf, unsigned *line, uint64_t *address, uint32_t *data)
{
    if (gic.version == 3)
        return its_allocate(bdf, line, address, data);
    if (!v2m_frame || v2m_next >= v2m_end || v2m_next >= gic.lines)
        return false;
    unsigned intid = v2m_next++;
    arch_irq_mask(intid);
    uintptr_t cfg = gic.dist + GICD_ICFGR + intid / 16 * 4;
    wr32(cfg, rd32(cfg) | 2u << (intid % 16 * 2));      // edge
    *line = intid;
    *address = v2m_frame + V2M_SETSPI_NS;
    *data = intid;
    return true;
}
