// 16550 UART on COM1 (port 0x3f8): 115200 8N1, polled.
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"

#define COM1 0x3f8

void arch_console_init(const struct boot_info *bi)
{
    (void)bi;
    outb(COM1 + 1, 0x00);   // no interrupts
    outb(COM1 + 3, 0x80);   // DLAB
    outb(COM1 + 0, 0x01);   // divisor 1: 115200 baud
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   // 8N1
    outb(COM1 + 2, 0xc7);   // FIFO on, cleared, 14-byte threshold
    outb(COM1 + 4, 0x03);   // DTR, RTS
}

void arch_console_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))   // transmit holding register empty
        ;
    outb(COM1, (uint8_t)c);
}

int arch_console_getc(void)
{
    if (!(inb(COM1 + 5) & 0x01))      // data ready
        return -1;
    return inb(COM1);
}
