// Visible revocation (ABI; docs/exokernel.md). A Reclaim object stands
// between a resource manager and a library OS it lends frames to, as the
// exokernel's repossession protocol: the manager grants frames through it
// (each grant is an entry), asks for some back with a deadline, and
// collects; the library OS learns every request and every forced taking
// from a page the kernel writes (struct mf_reclaim_page), and a
// notification tells it to look.
//
//   manager:  CONFIGURE(page frame, notification)       once
//             GRANT(frame, libOS CNode, index, entry)   lend a frame
//             REQUEST(entries, deadline ticks)          ask for them back
//             COLLECT()                                 take back what is due
//   libOS:    waits on the notification, reads the page, releases what it
//             chooses (unmaps and deletes its cap to the frame) before the
//             deadline; what it keeps past the deadline COLLECT revokes
//             and lists in the repossession vector.
//
// A grant may also be a Slots object (CPU slots bound to the library OS's
// thread, include/manifold/slots.h): the same entries, requests and
// records, and when COLLECT ends such a grant (released or taken) its
// slots are freed and the thread is an ordinary one again.
//
// A grant marked MF_RECLAIM_GUARANTEED is never asked for or taken through
// the object (REQUEST refuses it). Any taking of a granted frame by
// revocation from above (the manager revoking its own frame cap, or the
// untyped it came from) is listed in the vector too: revocation is always
// visible to the library OS.
#pragma once
#include <stdint.h>

#define MF_RECLAIM_ENTRIES 32   // grants per Reclaim object
#define MF_RECLAIM_VECTOR 64    // repossession vector records kept (the newest)

enum mf_reclaim_op {
    // (page frame cptr, notification cptr): once. The page (a 4 KiB frame
    // with READ|WRITE) becomes the struct mf_reclaim_page the kernel keeps
    // current; the notification is signalled (its badge, or 1) at every
    // request and forced taking. The object keeps its own copies of both.
    MF_RECLAIM_CONFIGURE = 0,
    // (frame or Slots cptr, dst CNode cptr, dst index, entry | rights << 8 |
    // flags): lend it: a copy with `rights` goes into the empty slot dst
    // index of the CNode (the library OS's), recorded as `entry`. Slots
    // must be configured (-E_INVAL).
    MF_RECLAIM_GRANT,
    // (entry mask, ticks > 0): ask for these granted, revocable entries
    // back within `ticks` timer ticks.
    MF_RECLAIM_REQUEST,
    // (): for each requested entry, released ones (no cap left below the
    // grant) end; past its deadline the rest are revoked and listed in the
    // vector. -> released | taken << 8 | still pending << 16, entries
    // counted by this call; -E_AGAIN: revocation work left, call again.
    MF_RECLAIM_COLLECT,
    MF_RECLAIM_OP_COUNT
};
#define MF_RECLAIM_GUARANTEED (1u << 16)   // GRANT: never asked for, never taken

// Entry flags in the page.
#define MF_RECLAIM_GRANTED    1u
#define MF_RECLAIM_REQUESTED  2u
#define MF_RECLAIM_PINNED     4u    // granted as MF_RECLAIM_GUARANTEED

struct mf_reclaim_entry {
    uint64_t cptr;          // where the grant went: the index in the library OS's CNode
    uint64_t deadline;      // REQUESTED: the tick after which it may be taken
    uint32_t flags;         // MF_RECLAIM_*
    uint32_t reserved;
};

struct mf_reclaim_record {
    uint32_t entry;
    uint32_t forced;        // 1: COLLECT past the deadline; 0: revocation from above
    uint64_t cptr;          // the library OS's index it was granted at
    uint64_t tick;          // when it was taken
};

// The page, as the kernel writes it. `sequence` is odd while the kernel
// updates it: read it, copy what you need, and read it again; retry while
// odd or changed (mf_reclaim_read does that).
struct mf_reclaim_page {
    uint64_t sequence;
    uint64_t now;               // the tick of the last update
    uint64_t requests;          // REQUESTs so far
    uint64_t taken;             // records ever appended to the vector
    struct mf_reclaim_entry entry[MF_RECLAIM_ENTRIES];
    // The repossession vector: record n is vector[n % MF_RECLAIM_VECTOR],
    // for n from max(0, taken - MF_RECLAIM_VECTOR) to taken - 1.
    struct mf_reclaim_record vector[MF_RECLAIM_VECTOR];
};
_Static_assert(sizeof(struct mf_reclaim_page) <= 4096, "the reclaim page is one 4 KiB frame");
