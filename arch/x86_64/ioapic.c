// Device interrupts through the I/O APIC (82093AA), and how PCI INTx gets
// there on QEMU's pc machine: PIIX3's four PCI interrupt links (PIRQA-D)
// are steered by the firmware to ISA IRQs (SeaBIOS and OVMF: 10, 10, 11,
// 11) and written into each function's interrupt-line register; QEMU wires
// ISA IRQ n to I/O APIC pin n as well as to the (masked) 8259s, and its
// MADT has an interrupt source override for each of those IRQs saying
// "level, active high". Without an override the PCI default applies:
// level, active low.
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/vm.h"

#define IOAPIC_VERSION 0x01         // max redirection entry (23:16)
#define IOAPIC_REDIR   0x10         // 2 registers per pin: low, high
#define REDIR_MASKED   (1u << 16)
#define REDIR_LEVEL    (1u << 15)
#define REDIR_LOW      (1u << 13)   // active low

static struct x86_irq_routing routing;
static volatile uint32_t *ioapic;  // IOREGSEL at 0x00, IOWIN at 0x10
static unsigned pins;
static uint32_t redir_low[IOAPIC_MAX_PINS];    // what each configured pin holds, unmasked
static uint16_t gsi_flags[IOAPIC_MAX_PINS];    // from arch_pci_intx_line

static void ioapic_write(unsigned reg, uint32_t v) { ioapic[0] = reg; ioapic[4] = v; }
static uint32_t ioapic_read(unsigned reg) { ioapic[0] = reg; return ioapic[4]; }

void x86_ioapic_discover(paddr_t rsdp)
{
    acpi_madt_interrupts(rsdp, &routing);
}

// Maps the I/O APIC on first use and masks every pin the firmware left.
static bool ioapic_ready(void)
{
    if (ioapic)
        return true;
    if (!routing.ioapic)
        return false;
    ioapic = vm_map_device(routing.ioapic, PAGE_SIZE);
    pins = (ioapic_read(IOAPIC_VERSION) >> 16 & 0xff) + 1;
    if (pins > IOAPIC_MAX_PINS)
        pins = IOAPIC_MAX_PINS;
    for (unsigned p = 0; p < pins; p++)
        ioapic_write(IOAPIC_REDIR + 2 * p, REDIR_MASKED);
    kprintf("ioapic: %#lx, GSIs %u..%u\n", routing.ioapic, routing.gsi_base, routing.gsi_base + pins - 1);
    return true;
}

int arch_pci_intx_line(uint32_t bdf, unsigned pin, unsigned line)
{
    (void)bdf;
    (void)pin;
    if (line == 0 || line == 0xff)
        return -1;                  // the firmware did not route it
    uint32_t gsi = line;
    uint16_t flags = 0;
    for (unsigned i = 0; i < routing.override_count; i++)
        if (routing.override[i].source == line) {
            gsi = routing.override[i].gsi;
            flags = routing.override[i].flags;
        }
    if (gsi < routing.gsi_base || gsi - routing.gsi_base >= IOAPIC_MAX_PINS)
        return -1;
    gsi_flags[gsi - routing.gsi_base] = flags;
    return (int)gsi;
}

bool arch_irq_configure(unsigned gsi)
{
    if (!ioapic_ready() || gsi < routing.gsi_base || gsi - routing.gsi_base >= pins)
        return false;
    unsigned pin = gsi - routing.gsi_base;
    uint16_t f = gsi_flags[pin];
    bool high = (f & 3) == 1, edge = (f >> 2 & 3) == 1;     // PCI default: level, low
    uint32_t low = (VECTOR_IRQ_BASE + pin) | (edge ? 0 : REDIR_LEVEL) | (high ? 0 : REDIR_LOW);
    redir_low[pin] = low;           // fixed delivery, physical destination
    ioapic_write(IOAPIC_REDIR + 2 * pin + 1, lapic_id() << 24);   // the boot CPU
    ioapic_write(IOAPIC_REDIR + 2 * pin, low | REDIR_MASKED);
    return true;
}

// MSI lines (X86_MSI_LINE_BASE + vector) have no mask here: the device's
// MSI-X vector control masks them (kernel/irq.c).
void arch_irq_mask(unsigned gsi)
{
    unsigned pin = gsi - routing.gsi_base;
    if (ioapic && pin < pins && redir_low[pin])
        ioapic_write(IOAPIC_REDIR + 2 * pin, redir_low[pin] | REDIR_MASKED);
}

void arch_irq_unmask(unsigned gsi)
{
    unsigned pin = gsi - routing.gsi_base;
    if (ioapic && pin < pins && redir_low[pin])
        ioapic_write(IOAPIC_REDIR + 2 * pin, redir_low[pin]);
}

// Masks the pin before the EOI: a level-triggered line still asserted
// would otherwise be delivered again at once. The driver's ack unmasks.
void x86_ioapic_interrupt(unsigned pin)
{
    unsigned gsi = routing.gsi_base + pin;
    arch_irq_mask(gsi);
    lapic_eoi();
    irq_handler(gsi);
}

// ------------------------------------------------------------------ MSI
// A message to 0xFEE00000 | destination APIC ID << 12 with data = vector
// (fixed delivery, edge) interrupts that CPU on that vector: no I/O APIC.
static unsigned msi_vectors_used;

bool arch_msi_allocate(uint32_t bdf, unsigned *line, uint64_t *address, uint32_t *data)
{
    (void)bdf;
    if (msi_vectors_used == VECTOR_MSI_COUNT)
        return false;
    unsigned vector = VECTOR_MSI_BASE + msi_vectors_used++;
    *line = X86_MSI_LINE_BASE + vector;
    *address = 0xfee00000u | lapic_id() << 12;      // the boot CPU, physical destination
    *data = vector;
    return true;
}

void x86_msi_interrupt(unsigned vector)
{
    lapic_eoi();
    irq_handler(X86_MSI_LINE_BASE + vector);
}
