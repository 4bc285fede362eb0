// Packet-filter bindings (include/manifold/net.h, docs/exokernel.md): the
// kernel drives each virtio-net NIC (kernel/virtio_net.c) and gives every
// received frame to the one binding whose receive filter it matches,
// copying it into that binding's ring; a binding transmits only frames its
// transmit filter matches, from the NIC's own MAC. A filter is a
// conjunction of masked byte-field tests: it cannot loop, and whether two
// filters can both match one frame is decided exactly (filters_overlap),
// so the kernel refuses a binding whose filter overlaps another's and a
// frame never has two owners.
//
// References (docs/capabilities.md): a binding keeps its ring frame and
// its notification as capability slots inside itself, at its start, so
// the frame and notification types' cap_deleted hooks find it from the
// slot (cap.held marks them). A NIC lists its bindings; a binding's
// finalizer takes itself off the list, under the NIC's lock, which the
// interrupt handler holds while it delivers: no handler keeps a pointer
// to a binding, ring or notification that is going.
#include "kernel/net.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/ipc.h"
#include "kernel/irq.h"
#include "kernel/lockdep.h"
#include "kernel/object.h"
#include "kernel/pci.h"
#include "kernel/usercopy.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

static struct nic nics[NIC_MAX];
static unsigned nic_count;

struct packet_filter {
    struct slot ring_slot;              // first: the hooks find the binding from it
    struct slot notify_slot;            // second
    struct nic *nic;                    // NULL until configured; NICs are never freed
    struct mf_filter_program program;
    uint8_t *ring;                      // the ring's kernel address, NULL once its frame went (NIC lock)
    struct notification *notification;  // NULL once it went (NIC lock)
    uint64_t badge;
    uint64_t received, dropped, transmitted, refused;
};
_Static_assert(sizeof(struct packet_filter) <= PAGE_SIZE, "a packet filter is one page");
_Static_assert(offsetof(struct packet_filter, ring_slot) == 0 &&
                   offsetof(struct packet_filter, notify_slot) == sizeof(struct slot),
               "the nested slots first");

// ------------------------------------------------------------- matching

// The bytes of a frame an atom tests, as (mask, value) per byte.
static void atom_bytes(const struct mf_filter_atom *a, unsigned i, uint8_t *mask, uint8_t *value)
{
    unsigned shift = 8 * (a->size - 1 - i);
    *mask = (uint8_t)(a->mask >> shift);
    *value = (uint8_t)(a->value >> shift);
}

static bool atom_matches(const struct mf_filter_atom *a, const uint8_t *frame, size_t len)
{
    if ((size_t)a->offset + a->size > len)
        return false;
    uint32_t field = 0;
    for (unsigned i = 0; i < a->size; i++)
        field = field << 8 | frame[a->offset + i];
    return (field & a->mask) == a->value;
}

static bool filter_matches(const struct mf_filter_atom *atoms, unsigned count, const uint8_t *frame, size_t len)
{
    for (unsigned i = 0; i < count; i++)
        if (!atom_matches(&atoms[i], frame, len))
            return false;
    return true;
}

// Whether one frame can match every atom of both: unless some byte is
// tested by both with bits where they want different values, a frame
// with those bytes (long enough for both) matches both.
static bool filters_overlap(const struct mf_filter_atom *a, unsigned na, const struct mf_filter_atom *b, unsigned nb)
{
    for (unsigned i = 0; i < na; i++)
        for (unsigned j = 0; j < nb; j++)
            for (unsigned x = 0; x < a[i].size; x++) {
                unsigned at = a[i].offset + x;
                if (at < b[j].offset || at >= (unsigned)b[j].offset + b[j].size)
                    continue;
                uint8_t ma, va, mb, vb;
                atom_bytes(&a[i], x, &ma, &va);
                atom_bytes(&b[j], at - b[j].offset, &mb, &vb);
                if (ma & mb & (va ^ vb))
                    return false;
            }
    return true;
}

// A filter the kernel accepts: atoms of 1, 2 or 4 bytes inside a frame,
// values within their masks, and satisfiable (no two atoms of it disagree).
static int filter_check(const struct invocation *inv, const struct mf_filter_atom *atoms, uint32_t count)
{
    if (count > MF_FILTER_ATOMS)
        return refuse(inv, -E_RANGE, "more than MF_FILTER_ATOMS atoms");
    for (unsigned i = 0; i < count; i++) {
        const struct mf_filter_atom *a = &atoms[i];
        if (a->size != 1 && a->size != 2 && a->size != 4)
            return refuse(inv, -E_INVAL, "an atom's size is not 1, 2 or 4");
        if ((unsigned)a->offset + a->size > MF_FRAME_MAX)
            return refuse(inv, -E_RANGE, "an atom tests bytes past MF_FRAME_MAX");
        if (a->size < 4 && (a->mask >> (8 * a->size) || a->value >> (8 * a->size)))
            return refuse(inv, -E_INVAL, "an atom's mask or value is wider than its size");
        if (a->value & ~a->mask)
            return refuse(inv, -E_INVAL, "an atom's value has bits outside its mask: it never matches");
        if (a->reserved)
            return refuse(inv, -E_INVAL, "an atom's reserved byte is not 0");
    }
    if (!filters_overlap(atoms, count, atoms, count))
        return refuse(inv, -E_INVAL, "two atoms of the filter disagree: it never matches");
    return 0;
}

// --------------------------------------------------------------- delivery

// The binding whose receive filter the frame matches (filters are
// disjoint: at most one), trying them in table order; NULL when none does.
static struct packet_filter *owner_of(const struct nic *n, const uint8_t *frame, size_t len)
{
    for (unsigned i = 0; i < NIC_FILTERS; i++) {
        struct packet_filter *f = n->filters[i];
        if (f && filter_matches(f->program.rx, f->program.rx_count, frame, len))
            return f;
    }
    return NULL;
}

static void deliver(struct nic *n, const uint8_t *frame, size_t len)
{
    struct packet_filter *f = owner_of(n, frame, len);
    if (f) {
        if (!f->ring) {
            f->dropped++;
            return;
        }
        struct mf_net_ring *r = (struct mf_net_ring *)f->ring;
        uint32_t head = r->head, tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
        if (head - tail >= MF_NET_SLOTS) {      // full (or a tail the library OS broke)
            r->dropped++;
            f->dropped++;
            return;
        }
        struct mf_net_slot *s = (struct mf_net_slot *)(f->ring + MF_NET_SLOT0 + (head % MF_NET_SLOTS) * MF_NET_SLOT_SIZE);
        memcpy(s->data, frame, len);
        s->length = (uint32_t)len;
        __atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
        f->received++;
        if (head == tail && f->notification)    // it was empty: the reader may be waiting
            notification_signal(f->notification, f->badge);
        return;
    }
    n->unclaimed++;
}

bool net_demux_bench(unsigned count, uint64_t *out, unsigned samples, unsigned warmup, uint64_t overhead)
{
    static struct nic fake;
    static struct packet_filter f[NIC_FILTERS];
    static uint8_t frame[60];
    if (count < 1 || count > NIC_FILTERS)
        return false;
    memset(&fake, 0, sizeof(fake));
    for (unsigned i = 0; i < count; i++) {
        f[i].program = (struct mf_filter_program){.rx_count = 2};
        f[i].program.rx[0] = (struct mf_filter_atom){.offset = 12, .size = 2, .mask = 0xffff, .value = 0x88b5};
        f[i].program.rx[1] = (struct mf_filter_atom){.offset = 14, .size = 1, .mask = 0xff, .value = 'a' + i};
        fake.filters[i] = &f[i];
    }
    frame[12] = 0x88;
    frame[13] = 0xb5;
    frame[14] = (uint8_t)('a' + count - 1);     // the last binding's
    bool ok = true;
    for (unsigned i = 0; i < warmup + samples; i++) {
        uint64_t t0 = arch_user_counter();
        const struct packet_filter *owner = owner_of(&fake, frame, sizeof(frame));
        uint64_t t1 = arch_user_counter();
        ok &= owner == &f[count - 1];
        if (i >= warmup)
            out[i - warmup] = t1 - t0 > overhead ? t1 - t0 - overhead : 0;
    }
    return ok;
}

static void net_interrupt(void *arg)
{
    struct nic *n = arg;
    struct mcs_qnode q;
    mcs_lock(&n->lock, &q);
    virtio_net_receive(n, deliver);
    mcs_unlock(&n->lock, &q);
}

bool net_attach(struct pci_device *d)
{
    if (d->vendor != 0x1af4 || (d->device != 0x1000 && d->device != 0x1041) || nic_count >= NIC_MAX || !d->line)
        return false;
    struct nic *n = &nics[nic_count];
    *n = (struct nic){.device = d, .msix = d->line->msi, .lock = {.lock_class = LOCK_CLASS_NIC}};
    if (!virtio_net_init(n, d)) {
        kprintf("net: virtio-net %02x:%02x.%u: the device refused the driver; left to user space\n", d->bdf >> 8,
                d->bdf >> 3 & 31, d->bdf & 7);
        return false;
    }
    nic_count++;
    d->kernel_driven = true;
    irq_bind_kernel(d->line, net_interrupt, n);
    kprintf("net: nic%u virtio-net %02x:%02x.%u mac %02x:%02x:%02x:%02x:%02x:%02x, %s interrupt\n", nic_count - 1,
            d->bdf >> 8, d->bdf >> 3 & 31, d->bdf & 7, n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
            n->msix ? "MSI-X" : "INTx");
    return true;
}

static struct nic *nic_of(const struct pci_device *d)
{
    for (unsigned i = 0; i < nic_count; i++)
        if (nics[i].device == d)
            return &nics[i];
    return NULL;
}

// ------------------------------------------------------------- the hooks

static struct packet_filter *filter_of(const struct slot *s)
{
    return (struct packet_filter *)cap_holder_object(s);
}

void net_frame_deleted(const struct slot *s)
{
    if (s->cap.held != CAP_FILTER_RING)
        return;
    struct packet_filter *f = filter_of(s);
    struct mcs_qnode q;
    mcs_lock(&f->nic->lock, &q);
    f->ring = NULL;         // the frame may be retyped once its untyped is revoked
    mcs_unlock(&f->nic->lock, &q);
}

void net_notification_deleted(const struct slot *s)
{
    if (s->cap.held != CAP_FILTER_NOTIFY)
        return;
    struct packet_filter *f = filter_of(s);
    struct mcs_qnode q;
    mcs_lock(&f->nic->lock, &q);
    f->notification = NULL;
    mcs_unlock(&f->nic->lock, &q);
}

// ------------------------------------------------------------ operations

static struct packet_filter *target(const struct invocation *inv)
{
    return (struct packet_filter *)inv->target->cap.obj;
}

// CONFIGURE(NIC cptr, program, ring frame cptr, notification cptr). The
// program is copied in once, at decode (cap_lock: one buffer serves all).
static struct mf_filter_program program_in;

struct configure_args {
    struct packet_filter *f;
    struct nic *nic;
    struct slot *ring, *notify;
    unsigned index;
};

static int decode_configure(const struct invocation *inv, struct decoded *d)
{
    struct configure_args *a = DECODED(struct configure_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *dev;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_PCI_DEVICE, MF_RIGHT_WRITE, &dev);
    if (!r)
        r = cap_lookup(inv->caller, inv->arg[2], MF_OBJ_FRAME, MF_RIGHT_READ | MF_RIGHT_WRITE, &a->ring);
    if (!r)
        r = cap_lookup(inv->caller, inv->arg[3], MF_OBJ_NOTIFICATION, MF_RIGHT_WRITE, &a->notify);
    if (r)
        return r;
    a->f = target(inv);
    if (a->f->nic)
        return refuse(inv, -E_BUSY, "the binding is configured already");
    a->nic = nic_of((const struct pci_device *)dev->cap.obj);
    if (!a->nic)
        return refuse(inv, -E_INVAL, "the device is not a NIC the kernel drives");
    if ((1ul << a->ring->cap.size_bits) != MF_NET_FRAME_SIZE)
        return refuse(inv, -E_INVAL, "the ring frame must be a 2 MiB frame");
    if (copy_from_user(&program_in, inv->arg[1], sizeof(program_in)))
        return refuse(inv, -E_FAULT, "the program is not readable");
    r = filter_check(inv, program_in.rx, program_in.rx_count);
    if (!r)
        r = filter_check(inv, program_in.tx, program_in.tx_count);
    if (!r && program_in.ring_offset != 0 && program_in.ring_offset != MF_NET_RING_SIZE)
        r = refuse(inv, -E_INVAL, "ring_offset: 0 or MF_NET_RING_SIZE");
    if (!r && program_in.reserved)
        r = refuse(inv, -E_INVAL, "the program's reserved word is not 0");
    if (r)
        return r;
    a->index = NIC_FILTERS;
    for (unsigned i = 0; i < NIC_FILTERS; i++) {
        const struct packet_filter *o = a->nic->filters[i];
        if (!o) {
            if (a->index == NIC_FILTERS)
                a->index = i;
            continue;
        }
        if (filters_overlap(program_in.rx, program_in.rx_count, o->program.rx, o->program.rx_count))
            return refuse(inv, -E_BUSY, "the receive filter overlaps another binding's");
        if (filters_overlap(program_in.tx, program_in.tx_count, o->program.tx, o->program.tx_count))
            return refuse(inv, -E_BUSY, "the transmit filter overlaps another binding's");
    }
    if (a->index == NIC_FILTERS)
        return refuse(inv, -E_NOMEM, "the NIC has NIC_FILTERS bindings already");
    return 0;
}

static int64_t invoke_configure(const struct decoded *d)
{
    const struct configure_args *a = DECODED(struct configure_args, d);
    struct packet_filter *f = a->f;
    struct cap ring, notify;
    if (cap_derive(&a->ring->cap, MF_RIGHTS_ALL, 0, &ring) || cap_derive(&a->notify->cap, MF_RIGHTS_ALL, 0, &notify))
        return -E_INVAL;    // not reached: both types derive
    ring.held = CAP_FILTER_RING;
    notify.held = CAP_FILTER_NOTIFY;
    f->nic = a->nic;
    cap_insert(&f->ring_slot, &ring, a->ring);
    cap_insert(&f->notify_slot, &notify, a->notify);
    f->program = program_in;
    uint8_t *base = (uint8_t *)ring.obj + program_in.ring_offset;
    struct mf_net_ring *r = (struct mf_net_ring *)base;
    *r = (struct mf_net_ring){.slots = MF_NET_SLOTS, .slot_size = MF_NET_SLOT_SIZE};
    struct mcs_qnode q;
    mcs_lock(&f->nic->lock, &q);
    f->ring = base;
    f->notification = (struct notification *)notify.obj;
    f->badge = notify.badge ? notify.badge : 1;
    f->nic->filters[a->index] = f;
    mcs_unlock(&f->nic->lock, &q);
    return 0;
}

// TRANSMIT(offset, length): the frame is copied out of the ring frame and
// checked at decode, so the library OS cannot change it after the check.
static uint8_t frame_out[MF_FRAME_MAX];     // cap_lock

struct transmit_args {
    struct packet_filter *f;
    size_t length;
};

static int decode_transmit(const struct invocation *inv, struct decoded *d)
{
    struct transmit_args *a = DECODED(struct transmit_args, d);
    struct packet_filter *f = target(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (!f->nic)
        return refuse(inv, -E_INVAL, "the binding is not configured");
    uint64_t offset = inv->arg[0], length = inv->arg[1];
    if (length < MF_FRAME_MIN || length > MF_FRAME_MAX)
        return refuse(inv, -E_RANGE, "length: MF_FRAME_MIN .. MF_FRAME_MAX");
    if (offset < MF_NET_TX_OFFSET || offset > MF_NET_RING_SIZE - length)
        return refuse(inv, -E_RANGE, "the frame is not in the ring's transmit half");
    if (slot_empty(&f->ring_slot))
        return refuse(inv, -E_INVAL, "the binding's ring frame is gone");
    memcpy(frame_out, (const uint8_t *)f->ring_slot.cap.obj + f->program.ring_offset + offset, length);
    struct nic *n = f->nic;
    if (memcmp(frame_out + 6, n->mac, 6) != 0 ||
        !filter_matches(f->program.tx, f->program.tx_count, frame_out, length)) {
        f->refused++;       // a statistic, the one thing this decode changes: the refusal is the binding's to count
        return refuse(inv, -E_PERM, "the frame's source is not the NIC's MAC, or the transmit filter refuses it");
    }
    a->f = f;
    a->length = length;
    return 0;
}

static int64_t invoke_transmit(const struct decoded *d)
{
    const struct transmit_args *a = DECODED(struct transmit_args, d);
    struct packet_filter *f = a->f;
    struct mcs_qnode q;
    mcs_lock(&f->nic->lock, &q);
    bool sent = virtio_net_transmit(f->nic, frame_out, a->length);
    mcs_unlock(&f->nic->lock, &q);
    if (!sent)
        return -E_AGAIN;        // every transmit buffer in use: try again
    f->transmitted++;
    return 0;
}

// INFO(struct mf_filter_info *).
struct info_args {
    const struct packet_filter *f;
    uint64_t buffer;
};

static int decode_info(const struct invocation *inv, struct decoded *d)
{
    struct info_args *a = DECODED(struct info_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    a->f = target(inv);
    if (!a->f->nic)
        return refuse(inv, -E_INVAL, "the binding is not configured");
    a->buffer = inv->arg[0];
    return 0;
}

static int64_t invoke_info(const struct decoded *d)
{
    const struct info_args *a = DECODED(struct info_args, d);
    const struct packet_filter *f = a->f;
    struct mf_filter_info out = {.received = f->received, .dropped = f->dropped, .transmitted = f->transmitted,
                                 .refused = f->refused, .nic_unclaimed = f->nic->unclaimed};
    memcpy(out.mac, f->nic->mac, 6);
    return copy_to_user(a->buffer, &out, sizeof(out));     // -E_FAULT changes nothing
}

static const struct op_handler filter_ops[MAX_OPS] = {
    [MF_FILTER_CONFIGURE] = {decode_configure, invoke_configure},
    [MF_FILTER_TRANSMIT] = {decode_transmit, invoke_transmit},
    [MF_FILTER_INFO] = {decode_info, invoke_info},
};
_Static_assert(MF_FILTER_OP_COUNT <= MAX_OPS, "filter operation table");

static int filter_bits(unsigned size_bits) { return size_bits == 0 ? PAGE_SHIFT : -1; }

// The final cap is gone: off the NIC's list first (the handler holds the
// NIC lock while it delivers), then the nested copies.
static void filter_finalize(const struct cap *cap)
{
    struct packet_filter *f = (struct packet_filter *)cap->obj;
    if (!f->nic)
        return;
    struct mcs_qnode q;
    mcs_lock(&f->nic->lock, &q);
    for (unsigned i = 0; i < NIC_FILTERS; i++)
        if (f->nic->filters[i] == f)
            f->nic->filters[i] = NULL;
    mcs_unlock(&f->nic->lock, &q);
    cap_delete_nested(&f->ring_slot);
    cap_delete_nested(&f->notify_slot);
}

const struct object_type packet_filter_object_type = {
    .name = "packet filter",
    .object_bits = filter_bits,
    .finalize = filter_finalize,
    .ops = filter_ops,
    .op_count = MF_FILTER_OP_COUNT,
    .lock_class = LOCK_CAP,
};
