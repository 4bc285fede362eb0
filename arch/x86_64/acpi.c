// The CPUs the firmware describes: the ACPI MADT's local APIC entries.
// Runs in arch_cpu_init, on the boot page tables, which map the low 4 GiB
// at PHYS_MAP (the tables sit in ACPI memory that the kernel's own direct
// map leaves out). Fields are little-endian and not naturally aligned.
#include "arch/x86_64/x86.h"
#include "lib/string.h"

#define SDT_HEADER 36       // signature[4], length u32, revision, checksum, ...

static uint64_t le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool checksum_ok(const uint8_t *p, uint64_t len)
{
    uint8_t sum = 0;
    for (uint64_t i = 0; i < len; i++)
        sum += p[i];
    return sum == 0;
}

// The table with signature `sig` from the RSDT (4-byte entries) or XSDT
// (8-byte entries), or NULL.
static const uint8_t *find_table(paddr_t rsdp_pa, const char *sig)
{
    const uint8_t *rsdp = P2V(rsdp_pa);
    if (!rsdp_pa || memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20))
        return NULL;
    bool xsdt = rsdp[15] >= 2 && le(rsdp + 24, 8);
    const uint8_t *root = P2V(xsdt ? le(rsdp + 24, 8) : le(rsdp + 16, 4));
    unsigned entry = xsdt ? 8 : 4;
    uint64_t len = le(root + 4, 4);
    if (len < SDT_HEADER || !checksum_ok(root, len))
        return NULL;
    for (uint64_t off = SDT_HEADER; off + entry <= len; off += entry) {
        const uint8_t *t = P2V(le(root + off, entry));
        if (memcmp(t, sig, 4) == 0 && checksum_ok(t, le(t + 4, 4)))
            return t;
    }
    return NULL;
}

// MADT entries: type 0 = processor local APIC {uid u8, apic id u8, flags
// u32}, type 9 = processor local x2APIC {reserved u16, x2apic id u32,
// flags u32, uid u32}. Flags bit 0: enabled; bit 1: may be enabled later
// (online capable), which we do not do.
unsigned acpi_madt_apic_ids(paddr_t rsdp, uint32_t *ids, unsigned max)
{
    const uint8_t *madt = find_table(rsdp, "APIC");
    if (!madt)
        return 0;
    uint64_t len = le(madt + 4, 4);
    unsigned n = 0;
    for (uint64_t off = SDT_HEADER + 8; off + 2 <= len && madt[off + 1] >= 2; off += madt[off + 1]) {
        const uint8_t *e = madt + off;
        uint32_t id, flags;
        if (e[0] == 0 && e[1] >= 8) {
            id = e[3];
            flags = (uint32_t)le(e + 4, 4);
        } else if (e[0] == 9 && e[1] >= 16) {
            id = (uint32_t)le(e + 4, 4);
            flags = (uint32_t)le(e + 8, 4);
        } else {
            continue;
        }
        if ((flags & 1) && n < max)
            ids[n++] = id;
    }
    return n;
}

// MADT type 1: I/O APIC {id u8, reserved u8, address u32, GSI base u32};
// type 2: interrupt source override {bus u8, source u8, GSI u32, flags u16}.
void acpi_madt_interrupts(paddr_t rsdp, struct x86_irq_routing *out)
{
    const uint8_t *madt = find_table(rsdp, "APIC");
    if (!madt)
        return;
    uint64_t len = le(madt + 4, 4);
    for (uint64_t off = SDT_HEADER + 8; off + 2 <= len && madt[off + 1] >= 2; off += madt[off + 1]) {
        const uint8_t *e = madt + off;
        if (e[0] == 1 && e[1] >= 12 && !out->ioapic) {
            out->ioapic = le(e + 4, 4);
            out->gsi_base = (uint32_t)le(e + 8, 4);
        } else if (e[0] == 2 && e[1] >= 10 && out->override_count < ARRAY_SIZE(out->override)) {
            out->override[out->override_count].source = e[3];
            out->override[out->override_count].gsi = (uint32_t)le(e + 4, 4);
            out->override[out->override_count].flags = (uint16_t)le(e + 8, 2);
            out->override_count++;
        }
    }
}
