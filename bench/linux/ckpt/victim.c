// /ckpt_victim MIB SALT FD: the process bench/linux/ckpt.c checkpoints with
// Debian's criu, the counterpart of Manifold's ckpt_victim with an argument
// (user/programs/ckpt_victim.c). It maps MIB MiB of anonymous memory, marks
// each 4 KiB page with one word (at the same offset and with the same mark
// as Manifold's, the mark mixed with SALT so that no other round's image
// passes), writes a byte to FD and closes it and its standard streams (a
// process with no open files: nothing for criu but memory, as for
// Manifold's), and waits for SIGUSR1. The signal handler checks every
// page's mark and exits 0, or 15 at the first wrong one, so the check
// happens whenever the signal lands: bench/linux/ckpt.c sends it to the
// restored process only, criu having killed the original after the dump.
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096ul

static volatile uint64_t *memory;
static uint64_t pages, salt;

static uint64_t step(uint64_t x) { return x * 6364136223846793005ull + 1442695040888963407ull; }
static uint64_t mark(uint64_t page) { return step(page ^ 0x6d616e69666f6c64ull ^ salt << 40); }
static volatile uint64_t *word(uint64_t page) { return memory + page * (PAGE / 8) + page % 512; }

static void check(int sig)
{
    (void)sig;
    for (uint64_t i = 0; i < pages; i++)
        if (*word(i) != mark(i))
            _exit(15);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 10;
    pages = strtoull(argv[1], NULL, 0) << 8;
    salt = strtoull(argv[2], NULL, 0);
    int fd = atoi(argv[3]);
    memory = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == 0 || memory == MAP_FAILED)
        return 11;
    for (uint64_t i = 0; i < pages; i++)
        *word(i) = mark(i);
    struct sigaction sa = {.sa_handler = check};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 12;
    if (write(fd, "r", 1) != 1)
        return 13;
    close(fd);
    close(0);
    close(1);
    close(2);
    for (;;)
        pause();
}
