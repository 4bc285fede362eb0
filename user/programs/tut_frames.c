// Tutorial 4 (docs/tutorial/4-frames.md): an address space of our own with
// a segment above the home region, frames mapped with rights, W^X, changing
// rights in place, unmapping, and reading frames without mapping them.
#include "manifold.h"

#define BASE 0x80000000ul              // 2 GiB: segments live above the 1 GiB home
#define PAGE 4096ul

static int bad;
static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("tut_frames: FAILED: %s\n", what);
        bad++;
    }
}

// A function's machine code, to run from a frame mapped executable.
#if defined(__x86_64__)
static const uint8_t forty_two[] = {0xb8, 42, 0, 0, 0, 0xc3};      // mov $42, %eax; ret
#else
static const uint32_t forty_two[] = {0x52800540, 0xd65f03c0};       // mov w0, #42; ret
#endif

int main(uint64_t arg)
{
    (void)arg;
    // 1. A VAS (16 KiB: header, root table, two pages of tables), our home
    //    attached to it, and a 2 MiB segment at 2 GiB attached read-write.
    long vas = mf_new(MF_OBJ_VAS, 14), seg = mf_new(MF_OBJ_SEGMENT, 13);
    if (vas < 0 || seg < 0 || mf_segment_configure(seg, BASE, 2ul << 20) || mf_vas_attach(vas, 0) ||
        mf_vas_attach_segment(vas, seg, MF_RIGHT_READ | MF_RIGHT_WRITE))
        return 1;
    printf("tut_frames: a VAS with our home and a 2 MiB segment at %#lx\n", BASE);

    // 2. Frame A read-write. One cap holds one mapping: to map the frame
    //    again, copy the cap. A read-only copy may only map read-only.
    long a = mf_new(MF_OBJ_FRAME, 12), a_ro = mf_copy(a, MF_RIGHT_READ);
    long r1 = mf_frame_map(a, seg, BASE, MF_RIGHT_READ | MF_RIGHT_WRITE);
    long twice = mf_frame_map(a, seg, BASE + PAGE, MF_RIGHT_READ);
    long rw = mf_frame_map(a_ro, seg, BASE + PAGE, MF_RIGHT_READ | MF_RIGHT_WRITE);
    long r2 = mf_frame_map(a_ro, seg, BASE + PAGE, MF_RIGHT_READ);
    printf("tut_frames: A read-write at %#lx; the same cap again: %s\n", BASE, mf_strerror(twice));
    printf("tut_frames: a read-only copy of A: read-write %s, read-only at %#lx\n", mf_strerror(rw), BASE + PAGE);
    check(r1 == 0 && twice == -E_BUSY && rw == -E_PERM && r2 == 0, "mapping A twice");

    // 3. In the VAS: what we write at BASE appears at BASE + PAGE, the same frame.
    if (mf_vas_switch(vas))
        return 2;
    char *rw_page = (char *)BASE, *ro_page = (char *)(BASE + PAGE);
    __builtin_memcpy(rw_page, "hello", 6);
    printf("tut_frames: wrote \"%s\" at %#lx, read \"%s\" at %#lx\n", rw_page, BASE, ro_page, BASE + PAGE);
    check(__builtin_memcmp(ro_page, "hello", 6) == 0, "one frame, two addresses");
    // The kernel honours our mappings too: it will not write into the read-only page for us.
    long efault = mf_frame_read(a, 0, ro_page, 6);
    printf("tut_frames: the kernel asked to write into the read-only page: %s\n", mf_strerror(efault));
    check(efault == -E_FAULT, "read-only for the kernel too");

    // 4. W^X: never writable and executable at once. Write code while the
    //    page is writable, then make it executable in place.
    long b = mf_new(MF_OBJ_FRAME, 12);
    long wx = mf_frame_map(b, seg, BASE + 2 * PAGE, MF_RIGHT_READ | MF_RIGHT_WRITE | MF_MAP_EXEC);
    long r3 = mf_frame_map(b, seg, BASE + 2 * PAGE, MF_RIGHT_READ | MF_RIGHT_WRITE);
    __builtin_memcpy((void *)(BASE + 2 * PAGE), forty_two, sizeof(forty_two));
    // Making it executable also makes what we wrote visible to instruction
    // fetch (the kernel cleans and invalidates the caches on aarch64).
    long rx = mf_frame_protect(b, MF_RIGHT_READ | MF_MAP_EXEC);
    int value = rx == 0 ? ((int (*)(void))(BASE + 2 * PAGE))() : -1;
    printf("tut_frames: B read-write-exec: %s; written, protected READ|EXEC, called: %d\n", mf_strerror(wx), value);
    check(wx == -E_INVAL && r3 == 0 && value == 42, "W^X and executing a frame");
    long up = mf_frame_protect(a_ro, MF_RIGHT_READ | MF_RIGHT_WRITE);
    printf("tut_frames: protect the read-only copy READ|WRITE: %s\n", mf_strerror(up));
    check(up == -E_PERM, "protect cannot add rights the cap lacks");

    // 5. Unmapping A's first mapping leaves the copy's; the cap maps nothing now.
    long un = mf_frame_unmap(a), gone = mf_frame_protect(a, MF_RIGHT_READ);
    printf("tut_frames: A unmapped: protect %s; the copy still reads \"%s\"\n", mf_strerror(gone), ro_page);
    check(un == 0 && gone == -E_NOENT && __builtin_memcmp(ro_page, "hello", 6) == 0, "unmap");
    if (mf_vas_switch(0))                       // home again: the segment is not mapped here
        return 3;

    // 6. Frames without mapping them: the kernel copies for us (the
    //    loader fills programs' pages this way). Offsets stay in the frame.
    long c = mf_new(MF_OBJ_FRAME, 12);
    char buf[8] = {0};
    long w = mf_frame_write(c, 100, "data", 5), r = mf_frame_read(c, 100, buf, 5);
    long past = mf_frame_read(c, PAGE - 2, buf, 4), ro_write = mf_frame_write(a_ro, 0, "x", 1);
    printf("tut_frames: C never mapped: wrote and read \"%s\"; past its end: %s; through the read-only copy: %s\n",
           buf, mf_strerror(past), mf_strerror(ro_write));
    check(w == 0 && r == 0 && __builtin_memcmp(buf, "data", 5) == 0 && past == -E_RANGE && ro_write == -E_PERM,
          "frame read and write");
    return bad;
}
