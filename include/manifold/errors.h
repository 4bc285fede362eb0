// The one error enum of the Manifold ABI. System calls return a value >= 0 on
// success or the negation of one of these. Checks happen in a fixed order, so
// a call with several problems reports the first of: E_NOSYS (unknown call),
// E_BADCAP/E_TYPE/E_PERM (capability lookup, type, rights), E_INVAL/E_RANGE
// (arguments), E_FAULT (user memory), E_NOMEM (resources).
#pragma once

enum mf_error {
    E_OK = 0,
    E_NOSYS = 1,    // no such system call or operation
    E_BADCAP = 2,   // empty slot or capability that does not resolve
    E_TYPE = 3,     // capability of the wrong object type
    E_PERM = 4,     // capability lacks the right for this operation
    E_INVAL = 5,    // malformed argument
    E_RANGE = 6,    // argument out of range (address, index, size)
    E_FAULT = 7,    // user pointer not mapped or not accessible
    E_NOMEM = 8,    // out of memory or slots
    E_NOENT = 9,    // named thing does not exist
    E_BUSY = 10,    // object in use
    E_AGAIN = 11,   // nothing available now; try again
    E_NOEXEC = 12,  // malformed or unsupported executable image
    E_DEAD = 13,    // the peer or object went away
    E_HALF = 14,    // in the other half's range of a split process (docs/split.md)
    E_ERROR_COUNT
};

static inline const char *mf_strerror(long e)
{
    static const char *const names[E_ERROR_COUNT] = {
        [E_OK] = "ok", [E_NOSYS] = "no such call", [E_BADCAP] = "bad capability",
        [E_TYPE] = "wrong object type", [E_PERM] = "permission denied",
        [E_INVAL] = "invalid argument", [E_RANGE] = "out of range",
        [E_FAULT] = "bad address", [E_NOMEM] = "out of memory",
        [E_NOENT] = "not found", [E_BUSY] = "busy", [E_AGAIN] = "try again",
        [E_NOEXEC] = "bad executable", [E_DEAD] = "peer died",
        [E_HALF] = "other half's range",
    };
    if (e < 0)
        e = -e;
    return e < E_ERROR_COUNT ? names[e] : "unknown error";
}
