/* The 16550 UART at COM1. Many PCs have none, so serial_init() checks that the chip answers (in
 * loopback mode it must echo a byte) before the kernel ever waits on it: waiting on a port with
 * nothing behind it would hang the console. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/serial.h>
#include <arch/x86_64/timer.h>

#define COM1 0x3f8
enum { DATA = 0, FIFO_CONTROL = 2, MODEM_CONTROL = 4, LINE_STATUS = 5 };
#define LINE_STATUS_TRANSMIT_EMPTY 0x20
#define LINE_STATUS_DATA_READY 0x01

bool serial_present;
static uint64_t delay_per_byte;

void serial_set_delay(uint64_t microseconds) { delay_per_byte = microseconds; }

/* The UART is set up already, 115200 8N1 with the FIFO on: boot/entry.asm did it (serial_setup),
 * to report a failed start. A real 16550 echoes in loopback only after a character's time (87 us
 * at 115200), so the test waits for it, boundedly; with no chip, the status reads 0xff at once. */
void serial_init(void)
{
    outb(COM1 + MODEM_CONTROL, 0x1e); /* loopback, to test the chip */
    outb(COM1 + FIFO_CONTROL, 0xc7);  /* emptied: a byte from the line would answer instead */
    outb(COM1 + DATA, 0xa5);
    for (int spins = 0; spins < 100000; spins++)
        if (inb(COM1 + LINE_STATUS) & LINE_STATUS_DATA_READY)
            break;
    serial_present = inb(COM1 + DATA) == 0xa5;
    outb(COM1 + MODEM_CONTROL, 0x0b); /* normal operation */
}

int serial_read(void)
{
    if (!serial_present || !(inb(COM1 + LINE_STATUS) & LINE_STATUS_DATA_READY))
        return -1;
    return inb(COM1 + DATA);
}

void serial_write(const char *text, size_t length)
{
    if (!serial_present)
        return;
    for (size_t i = 0; i < length; i++) {
        if (text[i] == '\n')
            serial_write("\r", 1);
        int spins = 0;
        while (!(inb(COM1 + LINE_STATUS) & LINE_STATUS_TRANSMIT_EMPTY) && spins++ < 100000)
            cpu_relax();
        outb(COM1 + DATA, (uint8_t)text[i]);
        /* console_delay=: a slow line, as a real 9600-baud console is */
        if (delay_per_byte)
            udelay(delay_per_byte);
    }
}
