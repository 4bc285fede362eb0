// Host unit tests for the freestanding library: formatting and ELF parsing.
// Built with the host compiler, ASan and UBSan (make host-test).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/elf.h"
#include "lib/fmt.h"
#include "include/manifold/errors.h"

static int failures, checks;
#define CHECK(c) do { checks++; if (!(c)) { failures++; fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); } } while (0)

static void expect_fmt(const char *want, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    checks++;
    if (strcmp(buf, want) || n != (int)strlen(want)) {
        failures++;
        fprintf(stderr, "format \"%s\": got \"%s\" (%d), want \"%s\"\n", fmt, buf, n, want);
    }
}

static void test_fmt(void)
{
    expect_fmt("42 -7 ff FF 17", "%d %i %x %X %o", 42, -7, 255, 255, 15);
    expect_fmt("18446744073709551615", "%lu", ~0ul);
    expect_fmt("-9223372036854775808", "%ld", (long)(-9223372036854775807l - 1));
    expect_fmt("[   ab][ab   ][00042]", "[%5s][%-5s][%05d]", "ab", "ab", 42);
    expect_fmt("0x00000000deadbeef", "%p", (void *)0xdeadbeef);
    expect_fmt("%c(null)", "%%c%s", (char *)NULL);
    expect_fmt("[  7]", "[%*d]", 3, 7);
    expect_fmt("0x1f 0x0", "%#x %#lx", 31, 0ul);
    char small[4];
    CHECK(snprintf(small, sizeof(small), "%s", "abcdef") == 6 && strcmp(small, "abc") == 0);
}

// A minimal valid ELF64 executable: one PT_LOAD R+X segment at 0x400000.
static unsigned char image[4096];
static void build_elf(void)
{
    memset(image, 0, sizeof(image));
    memcpy(image, "\x7f" "ELF\x02\x01\x01", 7);
    unsigned char *e = image;
    *(uint16_t *)(e + 16) = 2;              // ET_EXEC
    *(uint16_t *)(e + 18) = ELF_MACHINE_X86_64;
    *(uint32_t *)(e + 20) = 1;
    *(uint64_t *)(e + 24) = 0x400010;       // entry
    *(uint64_t *)(e + 32) = 64;             // phoff
    *(uint16_t *)(e + 52) = 64;
    *(uint16_t *)(e + 54) = 56;
    *(uint16_t *)(e + 56) = 1;
    unsigned char *ph = e + 64;
    *(uint32_t *)(ph + 0) = 1;              // PT_LOAD
    *(uint32_t *)(ph + 4) = ELF_SEG_R | ELF_SEG_X;
    *(uint64_t *)(ph + 8) = 0;
    *(uint64_t *)(ph + 16) = 0x400000;
    *(uint64_t *)(ph + 32) = 256;
    *(uint64_t *)(ph + 40) = 0x2000;
}

static int parse(size_t size)
{
    struct elf_image img;
    return elf_parse(&img, image, size, ELF_MACHINE_X86_64, 0x10000, 0x800000000000ull);
}

static void test_elf(void)
{
    build_elf();
    CHECK(parse(sizeof(image)) == 0);
    struct elf_image img;
    CHECK(elf_parse(&img, image, sizeof(image), ELF_MACHINE_X86_64, 0x10000, 0x800000000000ull) == 0);
    struct elf_segment s;
    elf_segment_get(&img, 0, &s);
    CHECK(img.segment_count == 1 && s.vaddr == 0x400000 && s.memsz == 0x2000 && s.filesz == 256);
    CHECK(elf_parse(&img, image, sizeof(image), ELF_MACHINE_AARCH64, 0x10000, 1ull << 47) == -E_NOEXEC);
    // Every truncation is rejected, and none reads out of bounds (ASan).
    for (size_t n = 0; n < 64 + 56; n++) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, image, n);
        CHECK(elf_parse(&img, copy, n, ELF_MACHINE_X86_64, 0x10000, 1ull << 47) == -E_NOEXEC);
        free(copy);
    }
    // Single-field corruptions.
    *(uint64_t *)(image + 64 + 32) = 0x2001;   // filesz > memsz
    CHECK(parse(sizeof(image)) == -E_NOEXEC);
    build_elf();
    *(uint64_t *)(image + 64 + 16) = ~0ull - 0x1000;  // vaddr wraps
    CHECK(parse(sizeof(image)) == -E_NOEXEC);
    build_elf();
    *(uint64_t *)(image + 24) = 0x900000;       // entry outside
    CHECK(parse(sizeof(image)) == -E_NOEXEC);
    build_elf();
    *(uint32_t *)(image + 64 + 4) = ELF_SEG_R;  // entry not executable
    CHECK(parse(sizeof(image)) == -E_NOEXEC);
    build_elf();
    *(uint64_t *)(image + 32) = ~0ull - 10;     // phoff overflow
    CHECK(parse(sizeof(image)) == -E_NOEXEC);
    build_elf();
    // Two overlapping segments are refused.
    *(uint16_t *)(image + 56) = 2;
    memcpy(image + 64 + 56, image + 64, 56);
    *(uint64_t *)(image + 64 + 56 + 16) = 0x401000;
    CHECK(parse(sizeof(image)) == -E_NOEXEC);
    *(uint64_t *)(image + 64 + 56 + 16) = 0x402000;   // adjacent is fine
    CHECK(parse(sizeof(image)) == 0);
}

int main(void)
{
    test_fmt();
    test_elf();
    printf("host tests: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
