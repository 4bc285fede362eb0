// The entry table of split_lower, as split_upper calls it (docs/split.md).
#pragma once
enum {
    SPLIT_LOWER_COUNT_CALLS,    // (add): its __thread counter += add -> the counter
    SPLIT_LOWER_TAG_FN,         // (): its initialised __thread word -> SPLIT_LOWER_TAG
    SPLIT_LOWER_TP,             // (): its thread pointer while it runs
    SPLIT_LOWER_ALLOC,          // (pages): a segment of its own -> address or -E_*
    SPLIT_LOWER_TRESPASS,       // (): attach in the upper half's range -> what the kernel said
    SPLIT_LOWER_HELLO,          // (n): prints a line -> the counter
    SPLIT_LOWER_COUNT
};
#define SPLIT_LOWER_TAG 0x4c4f57455248414cul     // "LAHREWOL"
#define SPLIT_UPPER_TAG 0x5050555f54494c53ul     // "SLIT_UPP"
