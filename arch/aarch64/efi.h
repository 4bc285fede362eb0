// The few UEFI definitions the aarch64 boot stub uses (UEFI 2.x, AArch64:
// the calling convention is plain AAPCS64, UINTN is 64 bits, CHAR16 is UCS-2).
// Unused table slots are declared as opaque pointers to keep the layout.
#pragma once

#include "kernel/types.h"

typedef uint64_t efi_status;
typedef void *efi_handle;
typedef uint16_t efi_char16;

#define EFI_ERR(n) (0x8000000000000000ull | (n))
#define EFI_SUCCESS           0
#define EFI_LOAD_ERROR        EFI_ERR(1)
#define EFI_INVALID_PARAMETER EFI_ERR(2)
#define EFI_UNSUPPORTED       EFI_ERR(3)
#define EFI_BUFFER_TOO_SMALL  EFI_ERR(5)
#define EFI_OUT_OF_RESOURCES  EFI_ERR(9)
#define EFI_NOT_FOUND         EFI_ERR(14)

typedef struct {
    uint32_t a;
    uint16_t b, c;
    uint8_t d[8];
} efi_guid;

struct efi_table_header {
    uint64_t signature;
    uint32_t revision, header_size, crc32, reserved;
};

// EFI_MEMORY_TYPE
enum {
    EFI_RESERVED_MEMORY, EFI_LOADER_CODE, EFI_LOADER_DATA,
    EFI_BOOT_SERVICES_CODE, EFI_BOOT_SERVICES_DATA,
    EFI_RUNTIME_SERVICES_CODE, EFI_RUNTIME_SERVICES_DATA,
    EFI_CONVENTIONAL_MEMORY, EFI_UNUSABLE_MEMORY,
    EFI_ACPI_RECLAIM_MEMORY, EFI_ACPI_NVS_MEMORY,
    EFI_MMIO, EFI_MMIO_PORT_SPACE, EFI_PAL_CODE, EFI_PERSISTENT_MEMORY,
};
#define EFI_MEMORY_WB 0x8ull        // descriptor attribute: write-back cacheable

struct efi_memory_descriptor {
    uint32_t type;
    uint64_t phys_start, virt_start, pages, attribute;
};  // the firmware's stride (descriptor_size) may be larger: always use it

enum { EFI_ALLOCATE_ANY_PAGES, EFI_ALLOCATE_MAX_ADDRESS, EFI_ALLOCATE_ADDRESS };

struct efi_device_path {
    uint8_t type, subtype;
    uint8_t length[2];
};
#define EFI_DP_MEDIA         4
#define EFI_DP_MEDIA_VENDOR  3
#define EFI_DP_END           0x7f
#define EFI_DP_END_ENTIRE    0xff

struct efi_simple_text_output {
    void *reset;
    efi_status (*output_string)(struct efi_simple_text_output *, const efi_char16 *);
    // ... more, unused
};

struct efi_boot_services {
    struct efi_table_header hdr;
    void *raise_tpl, *restore_tpl;
    efi_status (*allocate_pages)(int type, int mem_type, uint64_t pages, uint64_t *addr);
    efi_status (*free_pages)(uint64_t addr, uint64_t pages);
    efi_status (*get_memory_map)(uint64_t *size, void *map, uint64_t *key,
                                 uint64_t *desc_size, uint32_t *desc_version);
    void *allocate_pool, *free_pool;
    void *create_event, *set_timer, *wait_for_event, *signal_event, *close_event, *check_event;
    void *install_protocol_interface, *reinstall_protocol_interface, *uninstall_protocol_interface;
    efi_status (*handle_protocol)(efi_handle, const efi_guid *, void **);
    void *reserved, *register_protocol_notify, *locate_handle;
    efi_status (*locate_device_path)(const efi_guid *, struct efi_device_path **, efi_handle *);
    void *install_configuration_table;
    void *load_image, *start_image, *exit, *unload_image;
    efi_status (*exit_boot_services)(efi_handle, uint64_t map_key);
    // ... more, unused
};

struct efi_configuration_table {
    efi_guid guid;
    void *table;
};

struct efi_system_table {
    struct efi_table_header hdr;
    efi_char16 *firmware_vendor;
    uint32_t firmware_revision;
    efi_handle console_in_handle;
    void *con_in;
    efi_handle console_out_handle;
    struct efi_simple_text_output *con_out;
    efi_handle stderr_handle;
    void *std_err;
    void *runtime_services;
    struct efi_boot_services *boot_services;
    uint64_t table_count;
    struct efi_configuration_table *tables;
};

struct efi_loaded_image {
    uint32_t revision;
    efi_handle parent;
    struct efi_system_table *system_table;
    efi_handle device;
    struct efi_device_path *file_path;
    void *reserved;
    uint32_t load_options_size;     // bytes
    void *load_options;             // UCS-2 command line from the boot loader
    void *image_base;
    uint64_t image_size;
    int image_code_type, image_data_type;
    void *unload;
};

struct efi_load_file2 {
    efi_status (*load_file)(struct efi_load_file2 *, struct efi_device_path *,
                            bool boot_policy, uint64_t *size, void *buffer);
};

// The stub's C entry, called by efi_entry (head.S) with the arguments UEFI
// passed; returns only on failure, with the status GRUB will report.
efi_status efi_main(efi_handle image, struct efi_system_table *st);

_Static_assert(__builtin_offsetof(struct efi_boot_services, exit_boot_services) == 0xe8,
               "EFI_BOOT_SERVICES layout");
_Static_assert(__builtin_offsetof(struct efi_system_table, tables) == 0x70,
               "EFI_SYSTEM_TABLE layout");
_Static_assert(__builtin_offsetof(struct efi_loaded_image, load_options) == 0x38,
               "EFI_LOADED_IMAGE_PROTOCOL layout");
