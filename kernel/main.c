// Portable kernel start-up: the arch boot code calls kmain() on the boot CPU
// with the MMU on, at the kernel's virtual addresses, interrupts disabled.
#include "kernel/clustered.h"
#include "kernel/lockdep.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/loader.h"
#include "kernel/object.h"
#include "kernel/pci.h"
#include "kernel/pmm.h"
#include "kernel/smp.h"
#include "kernel/thread.h"
#include "kernel/version.h"
#include "kernel/vm.h"
#include "lib/string.h"

static struct boot_info boot;   // copied out of boot-loader memory

const char *kernel_cmdline(void) { return boot.cmdline; }

bool cmdline_option(const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key);
    for (const char *p = boot.cmdline; *p;) {
        while (*p == ' ')
            p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            p += klen + 1;
            size_t n = 0;
            while (p[n] && p[n] != ' ')
                n++;
            if (len) {
                size_t c = n < len - 1 ? n : len - 1;
                memcpy(buf, p, c);
                buf[c] = 0;
            }
            return true;
        }
        while (*p && *p != ' ')
            p++;
    }
    return false;
}

// mode=crash on the command line: fault in the kernel on purpose so that
// `make test` can check a panic is reported with registers and a symbolized
// backtrace. Only the boot loader's configuration can ask for this.
static __attribute__((noinline)) void crash_on_request(void)
{
    char mode[16];
    if (cmdline_option("mode", mode, sizeof(mode)) && strcmp(mode, "crash") == 0) {
        kprintf("manifold: mode=crash: faulting in the kernel on purpose\n");
        volatile uintptr_t address = 16;   // unmapped: the first page never is
        *(volatile int *)address = 1;
    }
}

void kmain(struct boot_info *bi)
{
    boot = *bi;
    arch_console_init(&boot);
    kprintf("\nManifold %s (%s) booting: cmdline \"%s\"\n", MANIFOLD_VERSION, arch_name, boot.cmdline);
    arch_cpu_init(&boot);
    lockdep_init();
    pmm_init(&boot);
    // Per-CPU representatives of the page cache and the counters: the
    // boot CPU's now, each other CPU's as smp_init brings it up.
    pmm_cache_init();
    kstat_init();
    if (!co_prepare_cpu(0))
        panic("no memory for the boot CPU's page cache and counters");
    vm_init(&boot);
    char features[128];
    arch_cpu_features(features, sizeof(features));
    kprintf("manifold: %lu MiB free of %lu MiB, %u module(s), features: %s\n",
            pmm_free_bytes() >> 20, pmm_total_bytes() >> 20, boot.module_count, features);
    programs_init(&boot);
    sched_init();
    arch_timer_init(TIMER_HZ);
    smp_init();
    pci_init(&boot);
    crash_on_request();

    struct thread *root;
    int r = program_spawn("root", 0, &root);
    if (r)
        panic("cannot start the root task: error %d", r);
    // Untyped memory for the root task: 33 blocks of 8 MiB, about half the
    // machine's 512 MiB (user/root/root.h says who uses which; the last 17
    // are GUPS's: up to 64 regions of 2 MiB and their objects).
    r = root_cspace_create(root, 33, 23);
    if (r)
        panic("cannot create the root task's CSpace: error %d", r);
    uintptr_t cspace = root->cspace.cap.obj;
    pci_grant_root(cspace);
    system_grant_root(&cnode_slots(cspace)[MF_CAP_SYSTEM], &cnode_slots(cspace)[MF_CAP_CONSOLE]);
    cpu_time_grant_root(&cnode_slots(cspace)[MF_CAP_CPU_TIME]);
    r = boot_images_grant(&cnode_slots(cspace)[MF_CAP_BOOT_IMAGES]);
    if (r)
        panic("cannot give the root task the boot images: error %d", r);
    thread_start(root);
    sched_run_idle();
}
