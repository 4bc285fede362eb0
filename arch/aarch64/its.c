// The GICv3 Interrupt Translation Service (ARM IHI 0069, chapters 5-6):
// MSIs on GICv3. A device writes an event number to GITS_TRANSLATER; the
// ITS looks its DeviceID (the PCI requester ID, bdf, on QEMU virt) up in
// the device table, the event in that device's interrupt translation
// table (ITT), and makes the LPI found there pending at the collection's
// redistributor. LPIs (INTID 8192 and up) are configured by a table in
// memory (one byte each: priority, enable) and keep their pending bits in
// another, both named by the redistributor.
//
// Everything is set up once: at boot LPIs are enabled on CPU 0's
// redistributor, the ITS gets a device table, a collection table and a
// command queue, collection 0 is mapped to CPU 0; then each MSI-X device
// gets an ITT with event 0 mapped to a fresh LPI (its_allocate). Tables
// come from the page allocator at boot; nothing changes afterwards.
#include "arch/aarch64/aarch64.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/pmm.h"
#include "kernel/vm.h"
#include "lib/string.h"

// Redistributor (RD_base frame).
#define GICR_CTLR        0x0000
#define GICR_CTLR_ENABLE_LPIS 1u
#define GICR_TYPER       0x0008     // PLPIS (0), Processor_Number (23:8)
#define GICR_PROPBASER   0x0070
#define GICR_PENDBASER   0x0078
#define PENDBASER_PTZ    (1ull << 62)   // the pending table is zero
// ITS control frame.
#define GITS_CTLR        0x0000
#define GITS_CTLR_ENABLED 1u
#define GITS_CTLR_QUIESCENT (1u << 31)
#define GITS_TYPER       0x0008     // PTA (19): RDbase is an address, else a processor number
#define GITS_CBASER      0x0080
#define GITS_CWRITER     0x0088
#define GITS_CREADR      0x0090
#define GITS_BASER       0x0100     // 8 of them, 8 bytes each
#define GITS_TRANSLATER  0x10040    // in the translation frame, 64 KiB up
#define BASER_VALID      (1ull << 63)
#define BASER_TYPE(b)    ((unsigned)((b) >> 56) & 7)
#define BASER_DEVICES    1
#define BASER_COLLECTIONS 4
// Commands: 32 bytes each.
#define CMD_SYNC  0x05
#define CMD_MAPD  0x08
#define CMD_MAPC  0x09
#define CMD_MAPTI 0x0a
#define CMD_INV   0x0c

#define LPI_ID_BITS   14            // INTIDs below 2^14: LPIs 8192..16383
#define LPI_PRIORITY  0xa0          // as every other interrupt (gic.c)
#define DEVICE_TABLE_PAGES 4        // DeviceIDs (bdf) of buses 0-7 at 8 bytes each
#define ITT_EVENT_BITS 1            // events 0 and 1 per device; we use 0

static uintptr_t its;               // control frame (virtual)
static paddr_t its_pa;
static uint64_t *queue;             // command queue, one page
static unsigned queue_next;         // next command slot
static uint64_t target;             // MAPC's RDbase: address >> 16, or processor number
static unsigned next_lpi = GIC_LPI_FIRST;
static unsigned lpi_end = 1u << LPI_ID_BITS;

static inline uint32_t rd32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline uint64_t rd64(uintptr_t a) { return *(volatile uint64_t *)a; }
static inline void wr32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void wr64(uintptr_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

// Queues one command and waits until the ITS has read it.
static bool command(uint64_t dw0, uint64_t dw1, uint64_t dw2, uint64_t dw3)
{
    uint64_t *c = &queue[queue_next * 4];
    c[0] = dw0;
    c[1] = dw1;
    c[2] = dw2;
    c[3] = dw3;
    queue_next = (queue_next + 1) % (PAGE_SIZE / 32);
    dsb(sy);                        // the command is in memory before the ITS looks
    wr64(its + GITS_CWRITER, (uint64_t)queue_next * 32);
    for (unsigned i = 0; i < 1000000; i++)
        if (rd64(its + GITS_CREADR) == (uint64_t)queue_next * 32)
            return true;
    kprintf("its: command %#lx not consumed\n", dw0 & 0xff);
    return false;
}

static bool sync(void) { return command(CMD_SYNC, 0, target << 16, 0); }

// One table for each BASER of a type we need (devices, collections), flat,
// 4 KiB pages; the entry size is the ITS's (read-only field).
static bool setup_tables(void)
{
    for (unsigned n = 0; n < 8; n++) {
        uintptr_t reg = its + GITS_BASER + 8 * n;
        uint64_t b = rd64(reg);
        unsigned type = BASER_TYPE(b);
        if (type != BASER_DEVICES && type != BASER_COLLECTIONS)
            continue;
        unsigned pages = type == BASER_DEVICES ? DEVICE_TABLE_PAGES : 1;
        paddr_t pa = pmm_alloc_contig(pages, PAGE_SIZE);
        if (!pa)
            return false;
        uint64_t keep = b & (0x1full << 48 | 7ull << 56);      // entry size, type
        wr64(reg, BASER_VALID | keep | pa | (pages - 1));
        if ((rd64(reg) & 0xfffffffff000ull) != pa)
            return false;           // refused (a page size other than 4 KiB?)
    }
    return true;
}

void its_init(paddr_t base, uintptr_t rd, paddr_t rd_pa)
{
    if (!(rd64(rd + GICR_TYPER) & 1)) {
        kprintf("its: the redistributor has no LPIs\n");
        return;
    }
    // LPI configuration: one byte per LPI (priority, bit 0 = enabled);
    // pending table: one bit per INTID, 64 KiB aligned, zero.
    size_t prop_bytes = (1u << LPI_ID_BITS) - GIC_LPI_FIRST;
    paddr_t prop = pmm_alloc_contig(prop_bytes / PAGE_SIZE, PAGE_SIZE);
    paddr_t pend = pmm_alloc_contig(1, 0x10000);
    paddr_t cmdq = pmm_alloc();
    if (!prop || !pend || !cmdq) {
        kprintf("its: no memory for its tables\n");
        return;
    }
    memset(P2V(prop), LPI_PRIORITY | 1, prop_bytes);
    dsb(sy);
    wr64(rd + GICR_PROPBASER, prop | (LPI_ID_BITS - 1));
    wr64(rd + GICR_PENDBASER, pend | PENDBASER_PTZ);
    wr32(rd + GICR_CTLR, rd32(rd + GICR_CTLR) | GICR_CTLR_ENABLE_LPIS);

    its_pa = base;
    its = (uintptr_t)vm_map_device(base, 0x10000);
    wr32(its + GITS_CTLR, 0);
    for (unsigned i = 0; i < 1000000 && !(rd32(its + GITS_CTLR) & GITS_CTLR_QUIESCENT); i++)
        ;
    if (!setup_tables()) {
        kprintf("its: device or collection table refused\n");
        its = 0;
        return;
    }
    queue = P2V(cmdq);
    wr64(its + GITS_CBASER, BASER_VALID | cmdq);        // one page: 128 commands
    wr64(its + GITS_CWRITER, 0);
    wr32(its + GITS_CTLR, GITS_CTLR_ENABLED);
    bool pta = rd64(its + GITS_TYPER) >> 19 & 1;
    target = pta ? rd_pa >> 16 : rd64(rd + GICR_TYPER) >> 8 & 0xffff;
    if (!command(CMD_MAPC, 0, 1ull << 63 | target << 16 | 0, 0) || !sync()) {   // collection 0 -> CPU 0
        its = 0;
        return;
    }
    kprintf("its: %#lx, LPIs %u..%u to CPU 0\n", base, GIC_LPI_FIRST, lpi_end - 1);
}

bool its_allocate(uint32_t bdf, unsigned *line, uint64_t *address, uint32_t *data)
{
    if (!its || next_lpi >= lpi_end || bdf >= DEVICE_TABLE_PAGES * PAGE_SIZE / 8)
        return false;
    paddr_t itt = pmm_alloc();      // 256-byte aligned; far more than 2 entries need
    if (!itt)
        return false;
    unsigned lpi = next_lpi;
    uint64_t device = (uint64_t)bdf << 32;
    if (!command(CMD_MAPD | device, ITT_EVENT_BITS - 1, 1ull << 63 | itt, 0) ||
        !command(CMD_MAPTI | device, 0 | (uint64_t)lpi << 32, 0, 0) ||      // event 0 -> lpi, collection 0
        !command(CMD_INV | device, 0, 0, 0) || !sync()) {
        pmm_free(itt);
        return false;
    }
    next_lpi++;
    *line = lpi;
    *address = its_pa + GITS_TRANSLATER;
    *data = 0;                      // event 0
    return true;
}
