// Exokernel mechanisms (docs/exokernel.md): visible revocation through a
// Reclaim object. The library OS is played by this thread and its CSpace:
// what it is lent lands in our CNode, it maps the frames and reads the
// page the kernel keeps, and it releases by deleting its caps.
#include "manifold.h"
#include "utest.h"
#include "../root/root.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 3)
#define RECLAIM 560
#define PAGE 561        // the manager's cap to the page
#define NTFN 562
#define FRAME0 563      // the manager's frames: FRAME0 + i
#define LENT0 570       // where the library OS is lent them: LENT0 + i
#define SEG 577
#define VAS 578
#define PAGE_RO 579     // the library OS's read-only copy of the page
#define COPY 580        // a copy the library OS makes of a lent cap
#define SPARE 581
#define RO_FRAME 582
#define SEG_BASE 0x90000000ul
#define PAGE_VA (SEG_BASE + 16 * 4096)

static bool make(unsigned type, unsigned bits, long slot) { return mf_untyped_retype(UT, type, bits, 1, ROOT, slot) == 0; }

static bool cleanup(void) { return mf_vas_switch(0) == 0 && mf_cnode_revoke(ROOT, UT) == 0; }

static struct mf_reclaim_page snap;

static const struct mf_reclaim_page *page_now(void)
{
    mf_reclaim_read((const volatile struct mf_reclaim_page *)PAGE_VA, &snap);
    return &snap;
}

static uint32_t word_at(unsigned i) { return *(volatile uint32_t *)(SEG_BASE + i * 4096ul); }

// Objects, four frames with a pattern each, a VAS we run in with a segment
// for the lent frames and the page.
static const char *setup(void)
{
    UCHECK(cleanup());
    UCHECK(make(MF_OBJ_RECLAIM, 0, RECLAIM) && make(MF_OBJ_FRAME, 12, PAGE) && make(MF_OBJ_NOTIFICATION, 0, NTFN));
    for (unsigned i = 0; i < 4; i++) {
        uint32_t pattern = 0xfeed0000u + i;
        UCHECK(make(MF_OBJ_FRAME, 12, FRAME0 + i) && mf_frame_write(FRAME0 + i, 0, &pattern, 4) == 0);
    }
    UCHECK(make(MF_OBJ_VAS, 14, VAS) && mf_vas_attach(VAS, 0) == 0);
    UCHECK(make(MF_OBJ_SEGMENT, 13, SEG) && mf_segment_configure(SEG, SEG_BASE, 2ul << 20) == 0);
    UCHECK(mf_vas_attach_segment(VAS, SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_vas_switch(VAS) == 0);
    return NULL;
}

UTEST(reclaim_requests_collects_and_lists_what_it_took)
{
    const char *why = setup();
    if (why)
        return why;
    // Configure: once, with a 4 KiB frame the kernel may write.
    UCHECK(mf_invoke(RECLAIM, MF_RECLAIM_GRANT, FRAME0, ROOT, LENT0, 0) == -E_INVAL);   // not configured
    UCHECK(mf_reclaim_configure(RECLAIM, NTFN, NTFN) == -E_TYPE);
    UCHECK(mf_reclaim_configure(RECLAIM, PAGE, NTFN) == 0);
    UCHECK(mf_reclaim_configure(RECLAIM, PAGE, NTFN) == -E_BUSY);
    UCHECK(mf_cnode_copy(ROOT, PAGE, PAGE_RO, MF_RIGHT_READ) == 0 &&
           mf_frame_map(PAGE_RO, SEG, PAGE_VA, MF_RIGHT_READ) == 0);

    // Grants: three revocable, one guaranteed (read-only).
    for (unsigned i = 0; i < 4; i++)
        UCHECK(mf_reclaim_grant(RECLAIM, FRAME0 + i, ROOT, LENT0 + i, i, i == 2 ? MF_RIGHT_READ : 3,
                                i == 2 ? MF_RECLAIM_GUARANTEED : 0) == 0);
    UCHECK(mf_reclaim_grant(RECLAIM, FRAME0, ROOT, SPARE, 0, 3, 0) == -E_BUSY);          // entry taken
    UCHECK(mf_reclaim_grant(RECLAIM, FRAME0, ROOT, SPARE, MF_RECLAIM_ENTRIES, 3, 0) == -E_RANGE);
    UCHECK(mf_reclaim_grant(RECLAIM, FRAME0, ROOT, LENT0 + 1, 9, 3, 0) == -E_BUSY);      // slot occupied
    UCHECK(mf_cnode_copy(ROOT, FRAME0, RO_FRAME, MF_RIGHT_READ) == 0);
    UCHECK(mf_reclaim_grant(RECLAIM, RO_FRAME, ROOT, SPARE, 9, 3, 0) == -E_PERM);        // rights grow
    UCHECK(mf_invoke(RECLAIM, MF_RECLAIM_GRANT, FRAME0, ROOT, SPARE, 9 | 1u << 20) == -E_INVAL);
    UCHECK(mf_cnode_identify(ROOT, LENT0 + 2) == (MF_OBJ_FRAME | MF_RIGHT_READ << 8 | 12 << 16));

    // The library OS maps what it was lent and sees the page.
    for (unsigned i = 0; i < 4; i++)
        UCHECK(mf_frame_map(LENT0 + i, SEG, SEG_BASE + i * 4096ul, MF_RIGHT_READ) == 0);
    for (unsigned i = 0; i < 4; i++)
        UCHECK(word_at(i) == 0xfeed0000u + i);
    const struct mf_reclaim_page *p = page_now();
    for (unsigned i = 0; i < 4; i++)
        UCHECK(p->entry[i].cptr == LENT0 + i && p->entry[i].flags == (MF_RECLAIM_GRANTED | (i == 2 ? MF_RECLAIM_PINNED : 0)));
    UCHECK(p->entry[4].flags == 0 && p->requests == 0 && p->taken == 0);

    // Requests: never a guaranteed grant, an empty entry, or no time.
    mf_invoke(NTFN, MF_NOTIFICATION_POLL, 0, 0, 0, 0);
    UCHECK(mf_reclaim_request(RECLAIM, 1u << 2, 10) == -E_PERM);
    UCHECK(mf_reclaim_request(RECLAIM, 1u << 5, 10) == -E_INVAL);
    UCHECK(mf_reclaim_request(RECLAIM, 0, 10) == -E_RANGE);
    UCHECK(mf_reclaim_request(RECLAIM, 1, 0) == -E_RANGE);
    UCHECK(mf_invoke(NTFN, MF_NOTIFICATION_POLL, 0, 0, 0, 0) == 0);     // refused ones said nothing
    UCHECK(mf_reclaim_request(RECLAIM, 0xb, 100) == 0);                  // entries 0, 1, 3
    UCHECK(mf_invoke(NTFN, MF_NOTIFICATION_POLL, 0, 0, 0, 0) == 1);     // the library OS is told
    p = page_now();
    UCHECK(p->requests == 1);
    for (unsigned i = 0; i < 4; i++) {
        bool asked = i != 2;
        UCHECK(!!(p->entry[i].flags & MF_RECLAIM_REQUESTED) == asked);
        UCHECK(asked ? p->entry[i].deadline >= p->now + 99 && p->entry[i].deadline <= p->now + 100
                     : p->entry[i].deadline == 0);
    }

    // It gives back entries 1 and 3 and keeps 0 (and copies it).
    UCHECK(mf_frame_unmap(LENT0 + 1) == 0 && mf_cnode_delete(ROOT, LENT0 + 1) == 0);
    UCHECK(mf_cnode_delete(ROOT, LENT0 + 3) == 0);
    UCHECK(mf_cnode_copy(ROOT, LENT0, COPY, MF_RIGHT_READ) == 0);
    uint64_t deadline = p->entry[0].deadline;
    long r = mf_reclaim_collect(RECLAIM);
    UCHECK(r == (2 | 0 << 8 | 1 << 16));        // two released, none taken, one pending
    p = page_now();
    UCHECK(p->entry[1].flags == 0 && p->entry[3].flags == 0 && p->entry[0].flags == (MF_RECLAIM_GRANTED | MF_RECLAIM_REQUESTED));
    UCHECK(p->taken == 0 && word_at(0) == 0xfeed0000u);     // still ours until the deadline

    // Past the deadline the rest is taken, listed once, and its mapping is gone.
    while ((uint64_t)mf_time() <= deadline)
        mf_sleep(5);
    mf_invoke(NTFN, MF_NOTIFICATION_POLL, 0, 0, 0, 0);
    r = mf_reclaim_collect(RECLAIM);
    UCHECK(r == (0 | 1 << 8 | 0 << 16));
    UCHECK(mf_invoke(NTFN, MF_NOTIFICATION_POLL, 0, 0, 0, 0) == 1);
    UCHECK(mf_cnode_identify(ROOT, LENT0) == 0 && mf_cnode_identify(ROOT, COPY) == 0);
    p = page_now();
    UCHECK(p->taken == 1 && p->vector[0].entry == 0 && p->vector[0].forced == 1 && p->vector[0].cptr == LENT0);
    UCHECK(p->vector[0].tick > deadline && p->entry[0].flags == 0);
    UCHECK(mf_frame_map(FRAME0 + 1, SEG, SEG_BASE, MF_RIGHT_READ) == 0);   // the old mapping is gone
    UCHECK(word_at(0) == 0xfeed0001u);
    UCHECK(mf_reclaim_collect(RECLAIM) == 0);       // nothing left to collect

    // The guaranteed grant is untouched.
    UCHECK(word_at(2) == 0xfeed0002u && page_now()->entry[2].flags == (MF_RECLAIM_GRANTED | MF_RECLAIM_PINNED));

    // Revocation from above is visible too: the manager revokes the frame
    // behind a fresh grant of entry 1.
    UCHECK(mf_reclaim_grant(RECLAIM, FRAME0 + 3, ROOT, LENT0 + 1, 1, 3, 0) == 0);
    UCHECK(mf_cnode_revoke(ROOT, FRAME0 + 3) == 0);
    UCHECK(mf_cnode_identify(ROOT, LENT0 + 1) == 0);
    p = page_now();
    UCHECK(p->taken == 2 && p->vector[1].entry == 1 && p->vector[1].forced == 0 && p->vector[1].cptr == LENT0 + 1);
    UCHECK(p->entry[1].flags == 0);
    UCHECK(mf_invoke(NTFN, MF_NOTIFICATION_POLL, 0, 0, 0, 0) == 1);

    // A library OS deleting its own cap is a release, never a taking.
    UCHECK(mf_reclaim_grant(RECLAIM, FRAME0 + 3, ROOT, LENT0 + 3, 3, 3, 0) == 0);
    UCHECK(mf_cnode_delete(ROOT, LENT0 + 3) == 0 && page_now()->taken == 2);
    UCHECK(cleanup());
    return NULL;
}

// The Reclaim object's own end: the library OS keeps what it was lent
// (now directly below the manager's frames, which can still revoke it);
// the page and notification copies go; nothing refers to the old object.
UTEST(reclaim_object_destroyed_leaves_lent_caps_revocable)
{
    const char *why = setup();
    if (why)
        return why;
    UCHECK(mf_reclaim_configure(RECLAIM, PAGE, NTFN) == 0);
    UCHECK(mf_cnode_copy(ROOT, PAGE, PAGE_RO, MF_RIGHT_READ) == 0 &&
           mf_frame_map(PAGE_RO, SEG, PAGE_VA, MF_RIGHT_READ) == 0);
    UCHECK(mf_reclaim_grant(RECLAIM, FRAME0, ROOT, LENT0, 0, 3, 0) == 0);
    UCHECK(mf_reclaim_grant(RECLAIM, FRAME0 + 1, ROOT, LENT0 + 1, 1, 3, MF_RECLAIM_GUARANTEED) == 0);
    UCHECK(mf_reclaim_request(RECLAIM, 1, 1) == 0);
    UCHECK(mf_cnode_delete(ROOT, RECLAIM) == 0);
    UCHECK(mf_cnode_identify(ROOT, LENT0) != 0 && mf_cnode_identify(ROOT, LENT0 + 1) != 0);
    UCHECK(mf_frame_map(LENT0, SEG, SEG_BASE, MF_RIGHT_READ) == 0 && word_at(0) == 0xfeed0000u);
    UCHECK(mf_cnode_revoke(ROOT, FRAME0) == 0 && mf_cnode_identify(ROOT, LENT0) == 0);
    UCHECK(page_now()->taken == 0);     // no object to record it any more
    // A new object starts with nothing granted.
    UCHECK(make(MF_OBJ_RECLAIM, 0, RECLAIM) && mf_reclaim_collect(RECLAIM) == 0);
    UCHECK(mf_reclaim_request(RECLAIM, 1, 1) == -E_INVAL);
    UCHECK(cleanup());
    return NULL;
}

// ------------------------------------------------------- batched bindings

#define BIG_SEG 583
#define BATCH_FRAME0 600     // 24 frames: 600..623
#define BATCH_BASE (4ul << 30)
#define GiB (1ul << 30)

static long refused_index(void)
{
    struct mf_thread_info me;
    return mf_thread_info(MF_THREAD_SELF, &me) == 0 ? (long)me.refused_index : -1;
}

static bool mapped(long frame) { return mf_frame_protect(frame, MF_RIGHT_READ) == 0; }

// A library OS binds and unbinds its frames in batches: each entry checked
// as MF_FRAME_MAP checks it, all or none, the page tables it needs counted
// once each.
UTEST(segment_batches_map_and_unmap_all_or_none)
{
    UCHECK(cleanup());
    // A 1 GiB segment whose pool holds two page tables beyond its top one.
    UCHECK(make(MF_OBJ_SEGMENT, 14, BIG_SEG) && mf_segment_configure(BIG_SEG, BATCH_BASE, GiB) == 0);
    UCHECK(make(MF_OBJ_VAS, 14, VAS) && mf_vas_attach(VAS, 0) == 0);
    UCHECK(mf_vas_attach_segment(VAS, BIG_SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 24, ROOT, BATCH_FRAME0) == 0);
    static struct mf_map_entry e[MF_MAP_BATCH_MAX + 1];
    for (unsigned i = 0; i < 24; i++)
        e[i] = (struct mf_map_entry){BATCH_FRAME0 + i, BATCH_BASE + i * 4096ul, MF_RIGHT_READ | MF_RIGHT_WRITE};

    // Refusals name the entry, and leave nothing mapped.
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 0) == -E_RANGE);
    UCHECK(mf_segment_map_batch(BIG_SEG, e, MF_MAP_BATCH_MAX + 1) == -E_RANGE);
    UCHECK(mf_segment_map_batch(BIG_SEG, (const struct mf_map_entry *)0x10, 4) == -E_FAULT);
    e[5].frame = SPARE;     // empty
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 16) == -E_BADCAP && refused_index() == 6);
    e[5].frame = BATCH_FRAME0 + 5;
    e[9].va = e[3].va;
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 16) == -E_BUSY && refused_index() == 10);
    e[9].va = BATCH_BASE + 9 * 4096ul;
    e[11].frame = BATCH_FRAME0 + 2;
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 16) == -E_BUSY && refused_index() == 12);
    e[11].frame = BATCH_FRAME0 + 11;
    e[7].rights = MF_RIGHT_WRITE;
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 16) == -E_INVAL && refused_index() == 8);
    e[7].rights = MF_RIGHT_READ | MF_RIGHT_WRITE;
    e[15].va = BATCH_BASE + 2 * GiB;
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 16) == -E_RANGE && refused_index() == 16);
    e[15].va = BATCH_BASE + 15 * 4096ul;
    // Three 2 MiB regions need three new tables; the pool has two.
    e[20].va = BATCH_BASE + (2ul << 20);
    e[21].va = BATCH_BASE + (4ul << 20);
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 22) == -E_NOMEM);
    for (unsigned i = 0; i < 22; i++)
        UCHECK(!mapped(BATCH_FRAME0 + i));
    UCHECK(mf_cnode_copy(ROOT, BIG_SEG, SPARE, MF_RIGHT_READ) == 0);
    UCHECK(mf_segment_map_batch(SPARE, e, 16) == -E_PERM && mf_cnode_delete(ROOT, SPARE) == 0);
    // A 2 MiB frame covers its region: a 4 KiB entry there clashes, either order.
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 21, 1, ROOT, SPARE) == 0);
    struct mf_map_entry mixed[3] = {{BATCH_FRAME0, BATCH_BASE + (6ul << 20) + 8192, 1},
                                    {SPARE, BATCH_BASE + (6ul << 20), 1},
                                    {BATCH_FRAME0 + 1, BATCH_BASE + (6ul << 20) + 4096, 1}};
    UCHECK(mf_segment_map_batch(BIG_SEG, mixed, 3) == -E_BUSY && refused_index() == 2);
    UCHECK(mf_segment_map_batch(BIG_SEG, &mixed[1], 2) == -E_BUSY && refused_index() == 2);
    mixed[1].va = BATCH_BASE + (8ul << 20);            // the 2 MiB frame elsewhere: no clash
    mixed[0].va = BATCH_BASE + (2ul << 20) + 8192;     // one new table for these two (e[20]'s later)
    mixed[2].va = BATCH_BASE + (2ul << 20) + 12288;
    UCHECK(mf_segment_map_batch(BIG_SEG, mixed, 3) == 3 && mapped(SPARE));
    uint64_t mixed_frames[3] = {BATCH_FRAME0, SPARE, BATCH_FRAME0 + 1};
    UCHECK(mf_segment_unmap_batch(BIG_SEG, mixed_frames, 3) == 3 && !mapped(SPARE) && mf_cnode_delete(ROOT, SPARE) == 0);

    // Sixteen pages in one region share one new table; two regions, two.
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 16) == 16);
    UCHECK(mf_segment_map_batch(BIG_SEG, &e[20], 1) == 1);
    UCHECK(mf_vas_switch(VAS) == 0);
    for (unsigned i = 0; i < 16; i++)
        *(volatile uint64_t *)(BATCH_BASE + i * 4096ul) = 0xb00c0000u + i;
    uint64_t word;
    UCHECK(mf_frame_read(BATCH_FRAME0 + 13, 0, &word, 8) == 0 && word == 0xb00c000du);
    UCHECK(mf_segment_map_batch(BIG_SEG, &e[3], 1) == -E_BUSY);     // a cap maps once

    // Unmapping: frames mapped in this segment, each once.
    uint64_t f[MF_MAP_BATCH_MAX];
    for (unsigned i = 0; i < 16; i++)
        f[i] = BATCH_FRAME0 + i;
    f[4] = BATCH_FRAME0 + 22;   // mapped nowhere
    UCHECK(mf_segment_unmap_batch(BIG_SEG, f, 16) == -E_NOENT && refused_index() == 5);
    f[4] = BATCH_FRAME0;
    UCHECK(mf_segment_unmap_batch(BIG_SEG, f, 16) == -E_BUSY && refused_index() == 5);
    f[4] = BATCH_FRAME0 + 4;
    UCHECK(mapped(BATCH_FRAME0) && mapped(BATCH_FRAME0 + 15));
    UCHECK(mf_segment_unmap_batch(BIG_SEG, f, 16) == 16);
    for (unsigned i = 0; i < 16; i++)
        UCHECK(!mapped(BATCH_FRAME0 + i));
    // The addresses are free again: the entries are gone, not just the records.
    for (unsigned i = 0; i < 16; i++)
        e[i].frame = BATCH_FRAME0 + (i + 1) % 16;
    UCHECK(mf_segment_map_batch(BIG_SEG, e, 16) == 16);
    UCHECK(*(volatile uint64_t *)BATCH_BASE == 0xb00c0001u);
    UCHECK(cleanup());
    return NULL;
}
