"""The mode disk: how the test harness picks a boot mode without a second ISO.

The ISO's grub.cfg (iso/mkgrubcfg) looks for a file /manifold-mode.cfg on
any disk and, if found, sources it; that file sets `manifold_mode` (shell,
test, bench, crash) and `manifold_options` (extra kernel command-line words,
e.g. tlbtags=off). Without it the ISO boots the shell: `make run` and a user
booting the ISO attach nothing. So the ISO that `make test` boots is exactly
the one `make iso` builds.

The disk is a partitionless FAT image made with mtools, sized as a
20-cylinder, 16-head, 63-sector hard disk so Bochs can use it as one too.
"""
import os
import subprocess

CYLINDERS, HEADS, SECTORS = 20, 16, 63
SIZE = CYLINDERS * HEADS * SECTORS * 512


def make(build_dir, mode, options=""):
    """Returns the path of a mode disk for (mode, options), creating it once."""
    tag = mode + ("-" + options.replace(" ", "-").replace("=", "_") if options else "")
    path = os.path.join(build_dir, f"mode-{tag}.img")
    cfg = f'set manifold_mode={mode}\nset manifold_options="{options}"\n'
    stamp = path + ".cfg"
    if os.path.exists(path) and os.path.exists(stamp) and open(stamp).read() == cfg:
        return path
    os.makedirs(build_dir, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(SIZE)
    subprocess.run(["mformat", "-i", path, "-t", str(CYLINDERS), "-h", str(HEADS), "-s", str(SECTORS), "::"],
                   check=True, stdout=subprocess.DEVNULL)
    with open(stamp, "w") as f:
        f.write(cfg)
    subprocess.run(["mcopy", "-o", "-i", path, stamp, "::/manifold-mode.cfg"], check=True)
    return path
