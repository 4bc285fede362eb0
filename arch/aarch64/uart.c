// PL011 UART console (ARM DDI 0183), polled. Before the MMU switch the stub
// points it at the physical address; after, at PHYS_MAP + uart_base.
#include "arch/aarch64/aarch64.h"
#include "kernel/arch.h"
#include "kernel/boot.h"

// Register offsets (32-bit registers).
#define DR    0x00      // data
#define FR    0x18      // flags
#define IBRD  0x24      // integer baud divisor
#define FBRD  0x28      // fractional baud divisor
#define LCR_H 0x2c      // line control
#define CR    0x30      // control
#define IMSC  0x38      // interrupt mask (1 = enabled)
#define FR_RXFE (1u << 4)   // receive FIFO empty
#define FR_TXFF (1u << 5)   // transmit FIFO full
#define LCR_FEN   (1u << 4)     // FIFOs on
#define LCR_WLEN8 (3u << 5)     // 8 data bits (no parity, 1 stop)
#define CR_UARTEN (1u << 0)
#define CR_TXE    (1u << 8)
#define CR_RXE    (1u << 9)

static uintptr_t uart = PHYS_MAP + UART_FALLBACK;

static inline uint32_t rd(unsigned reg) { return *(volatile uint32_t *)(uart + reg); }
static inline void wr(unsigned reg, uint32_t v) { *(volatile uint32_t *)(uart + reg) = v; }

void a64_console_set_base(uintptr_t va) { uart = va; }

// Keeps the firmware's line settings when the UART is already on; otherwise
// programs 115200 8N1 assuming the 24 MHz UARTCLK of QEMU and most boards.
void arch_console_init(const struct boot_info *bi)
{
    uart = PHYS_MAP + (bi && bi->uart_base ? bi->uart_base : UART_FALLBACK);
    if (!(rd(CR) & CR_UARTEN)) {
        wr(IBRD, 13);               // 24e6 / (16 * 115200) = 13.02
        wr(FBRD, 1);
        wr(LCR_H, LCR_FEN | LCR_WLEN8);
        wr(CR, CR_UARTEN | CR_TXE | CR_RXE);
    }
    wr(IMSC, 0);                    // polled: no interrupts
}

static void putc_raw(char c)
{
    while (rd(FR) & FR_TXFF)
        ;
    wr(DR, (uint8_t)c);
}

void arch_console_putc(char c)
{
    if (c == '\n')
        putc_raw('\r');
    putc_raw(c);
}

int arch_console_getc(void)
{
    if (rd(FR) & FR_RXFE)
        return -1;
    return (int)(rd(DR) & 0xff);
}

void a64_puts(const char *s)
{
    while (*s)
        arch_console_putc(*s++);
}

void a64_puthex(uint64_t v)
{
    a64_puts("0x");
    for (int shift = 60; shift >= 0; shift -= 4)
        arch_console_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}
