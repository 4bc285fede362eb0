// Twins and XOR diffs: Mome's multiple writers.
//
// The first writer of a page makes no twin. A later writer gets a copy of
// the current reference and keeps a twin of it; what it has changed since
// is exactly the words where its page and the twin differ. It sends those
// words XORed with the twin's (page ^ twin), and the manager XORs them into
// the reference: a word only this writer changed becomes its new value, and
// a word it did not touch is XORed with 0. Writers that changed different
// words of one page (no data race) therefore all survive the merge, in any
// order, and nothing is needed from the first writer, whose writes are in
// the reference already (it is the manager).
#include "node.h"

struct run {
    uint32_t first, count;      // words
};

size_t diff_make(const uint8_t *page, const uint8_t *twin, uint8_t *out)
{
    const uint64_t *a = (const uint64_t *)page, *t = (const uint64_t *)twin;
    const unsigned words = DSM_PAGE / 8;
    size_t bytes = 0;
    for (unsigned w = 0; w < words;) {
        if (a[w] == t[w]) {
            w++;
            continue;
        }
        struct run *run = (struct run *)(out + bytes);
        uint64_t *x = (uint64_t *)(run + 1);
        run->first = w;
        while (w < words && a[w] != t[w]) {
            *x++ = a[w] ^ t[w];
            w++;
        }
        run->count = w - run->first;
        bytes += sizeof(*run) + run->count * 8;
    }
    return bytes;   // at most DIFF_MAX: runs are separated by equal words
}

void diff_apply(uint8_t *page, const uint8_t *diff, size_t bytes)
{
    uint64_t *a = (uint64_t *)page;
    for (size_t at = 0; at + sizeof(struct run) <= bytes;) {
        const struct run *run = (const struct run *)(diff + at);
        const uint64_t *x = (const uint64_t *)(run + 1);
        if (run->first + run->count > DSM_PAGE / 8)
            return;     // malformed: stop rather than write past the page
        for (uint32_t i = 0; i < run->count; i++)
            a[run->first + i] ^= x[i];
        at += sizeof(*run) + run->count * 8;
    }
}
