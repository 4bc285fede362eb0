// Local APIC timer, calibrated against the PIT; TSC frequency likewise.
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/console.h"

#define LAPIC_ID       0x020
#define LAPIC_EOI      0x0b0
#define LAPIC_SVR      0x0f0
#define LAPIC_ICR_LOW  0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_PENDING    (1u << 12)     // delivery status: send pending
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR  0x390
#define LAPIC_TIMER_DIV  0x3e0
#define LVT_MASKED     (1u << 16)
#define LVT_PERIODIC   (1u << 17)

static volatile uint32_t *lapic;       // the same address on every CPU: each sees its own
static uint32_t timer_count;           // per tick, calibrated by the boot CPU
uint64_t x86_tsc_hz;

static inline uint32_t lapic_read(unsigned reg) { return lapic[reg / 4]; }
static inline void lapic_write(unsigned reg, uint32_t v) { lapic[reg / 4] = v; }

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

// Busy-waits `ms` milliseconds on PIT channel 2 (gate through port 0x61).
static void pit_wait_ms(unsigned ms)
{
    uint32_t count = 1193182u * ms / 1000;
    uint8_t gate = inb(0x61);
    outb(0x61, (gate & ~0x02) | 0x01);  // speaker off, gate on
    outb(0x43, 0xb0);                    // channel 2, lo/hi byte, mode 0
    outb(0x42, count & 0xff);
    outb(0x42, count >> 8);
    gate = inb(0x61) & ~0x01;            // restart the count
    outb(0x61, gate);
    outb(0x61, gate | 0x01);
    while (!(inb(0x61) & 0x20))
        ;
}

void lapic_init(void)
{
    lapic = P2V(rdmsr(MSR_APIC_BASE) & ~0xfffull);
    lapic_write(LAPIC_SVR, 0x100 | VECTOR_SPURIOUS);   // software enable
}

uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }

void lapic_send(uint32_t apic_id, uint32_t command)
{
    while (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING)
        __asm__ volatile("pause");
    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, command);     // writing the low word sends
}

void lapic_timer_start(void)
{
    lapic_write(LAPIC_TIMER_DIV, 0x3);
    lapic_write(LAPIC_LVT_TIMER, VECTOR_TIMER | LVT_PERIODIC);
    lapic_write(LAPIC_TIMER_INIT, timer_count);
}

void arch_timer_init(unsigned hz)
{
    lapic_init();
    lapic_write(LAPIC_TIMER_DIV, 0x3);                 // divide by 16
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
    uint64_t tsc0 = arch_cycles();
    pit_wait_ms(10);
    uint64_t tsc1 = arch_cycles();
    uint32_t ticks = 0xffffffff - lapic_read(LAPIC_TIMER_CUR);
    x86_tsc_hz = (tsc1 - tsc0) * 100;
    uint32_t per_tick = ticks * 100 / hz;
    if (per_tick == 0)
        panic("lapic: timer did not count during calibration");
    timer_count = per_tick;
    lapic_timer_start();
    kprintf("manifold: LAPIC timer %u Hz (%u counts per tick), TSC %lu MHz\n", hz, per_tick,
            x86_tsc_hz / 1000000);
}
