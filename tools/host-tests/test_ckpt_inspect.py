#!/usr/bin/env python3
"""Host test of tools/ckpt-inspect against an image written with the real
layout of include/manifold/ckpt.h (tools/host-tests/ckpt_image.c, built
here with the host's cc): the version it reads, an LRPC binding's record
(its objects, procedures, entry, A-stacks) and an unconfigured one, a
frame's checksum, and the exit statuses: 0 for a good image, 1 for a
corrupted page, 2 for another version or no image. Run by `make
host-test`."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
INSPECT = os.path.join(ROOT, "tools", "ckpt-inspect")


def inspect(path, *args):
    p = subprocess.run([INSPECT, path] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout


def main():
    failures, checks = [], [0]

    def check(cond, what):
        checks[0] += 1
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(tmp, "ckpt_image")
        subprocess.run(["cc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I", ROOT,
                        os.path.join(HERE, "ckpt_image.c"), os.path.join(ROOT, "lib", "crc32.c"), "-o", gen],
                       check=True)
        img = os.path.join(tmp, "image")
        subprocess.run([gen, img], check=True)
        status, out = inspect(img, "--pages")
        check(status == 0, "a good image: exit %d" % status)
        check("image: version 3, x86_64, 16384 bytes: 7 objects, 2 caps, 0 threads, 1 pages" in out,
              "the header line")
        check("#4    binding 4 procedures at 0x1801000, server VAS #1, A-stacks in #2, server CSpace #0; "
              "A-stack 0 [0x100000000, +0x400) E-stack 0x1810000, 3 [0x100000c00, +0x200) E-stack 0x1812000"
              in out, "the configured binding")
        check("#5    binding not configured" in out, "the unconfigured binding")
        check("CNode 0 slot 130" in out and "#4 binding" in out, "the binding cap")
        check("pages: 1 frames checked, 0 corrupted" in out, "the frame")
        # Within a disk image, at an offset.
        with open(img, "rb") as f:
            data = f.read()
        disk = os.path.join(tmp, "disk")
        with open(disk, "wb") as f:
            f.write(b"\0" * 1024 + data)
        status, out = inspect(disk, "--offset", "1024")
        check(status == 0 and "#4    binding 4 procedures" in out, "at an offset: exit %d" % status)
        # A page corrupted: exit 1.
        bad = bytearray(data)
        bad[3 * 4096 + 5] ^= 0x40
        with open(img, "wb") as f:
            f.write(bad)
        status, out = inspect(img)
        check(status == 1 and "CORRUPTED" in out, "a corrupted page: exit %d" % status)
        # Another version (version 2 had 432-byte objects and no bindings): exit 2.
        old = bytearray(data)
        old[8:12] = (2).to_bytes(4, "little")
        with open(img, "wb") as f:
            f.write(old)
        status, out = inspect(img)
        check(status == 2 and "this tool reads version 3" in out, "version 2: exit %d" % status)
        # No image at all.
        with open(img, "wb") as f:
            f.write(b"\0" * 8192)
        status, out = inspect(img)
        check(status == 2, "no magic: exit %d" % status)

    for f in failures:
        print("test_ckpt_inspect: FAILED: " + f)
    if not failures:
        print("test_ckpt_inspect: %d checks passed" % checks[0])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
