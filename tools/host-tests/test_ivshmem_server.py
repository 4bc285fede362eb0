#!/usr/bin/env python3
"""Host test of tools/ivshmem-server: the protocol QEMU's ivshmem-doorbell
expects (docs/specs/ivshmem-spec.txt), with three clients played by this
script: setup messages in order, the shared memory really shared, each
peer's eventfds handed to the others (a write on one is readable through
the other's copy), joins and leaves announced. Run by `make host-test`."""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "ivshmem-server")
SIZE = 1 << 20
VECTORS = 2


def receive(sock, timeout=5.0):
    """One message: (value, fd or None)."""
    sock.settimeout(timeout)
    data, fds, _, _ = socket.recv_fds(sock, 8, 1)
    if len(data) != 8:
        raise AssertionError(f"short message ({len(data)} bytes)")
    return struct.unpack("<q", data)[0], (fds[0] if fds else None)


def nothing_pending(sock):
    sock.settimeout(0.3)
    try:
        sock.recv(8, socket.MSG_PEEK)
    except socket.timeout:
        return True
    return False


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def setup(sock, others):
    """Reads a new client's setup; returns (id, shm fd, {peer: [fds]}, own fds)."""
    version, fd = receive(sock)
    assert version == 0 and fd is None, "1. version 0 without an fd"
    my_id, fd = receive(sock)
    assert 0 <= my_id <= 65535 and fd is None, "2. our ID without an fd"
    minus_one, shm = receive(sock)
    assert minus_one == -1 and shm is not None, "3. -1 with the shared-memory fd"
    peers = {}
    for _ in range(others * VECTORS):
        peer, fd = receive(sock)
        assert peer != my_id and fd is not None, "4. other peers' eventfds"
        peers.setdefault(peer, []).append(fd)
    own = []
    for _ in range(VECTORS):
        peer, fd = receive(sock)
        assert peer == my_id and fd is not None, "5. our own eventfds"
        own.append(fd)
    assert nothing_pending(sock), "nothing more after the setup"
    return my_id, shm, peers, own


def main():
    tmp = tempfile.mkdtemp(prefix="ivshmem-server-test-")
    path = os.path.join(tmp, "s.sock")
    shm_file = os.path.join(tmp, "shm.bin")
    server = subprocess.Popen([sys.executable, SERVER, "-S", path, "-m", shm_file, "-l", str(SIZE),
                               "-n", str(VECTORS)])
    try:
        for _ in range(100):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        a = connect(path)
        a_id, a_shm, a_peers, a_own = setup(a, 0)
        assert a_peers == {}
        assert os.fstat(a_shm).st_size == SIZE and os.path.getsize(shm_file) == SIZE

        b = connect(path)
        b_id, b_shm, b_peers, b_own = setup(b, 1)
        assert b_id != a_id and list(b_peers) == [a_id], "B learns of A"
        # A hears of B: B's ID with each of B's eventfds.
        a_peers[b_id] = []
        for _ in range(VECTORS):
            peer, fd = receive(a)
            assert peer == b_id and fd is not None, "A is told of B with an fd"
            a_peers[b_id].append(fd)

        # The memory is one: what A writes B reads, and the file holds it.
        os.pwrite(a_shm, b"manifold", 4096)
        assert os.pread(b_shm, 8, 4096) == b"manifold"
        with open(shm_file, "rb") as f:
            f.seek(4096)
            assert f.read(8) == b"manifold"

        # A rings B's vector 1 with the fd it got; B's own fd for vector 1 sees it.
        os.eventfd_write(a_peers[b_id][1], 1)
        assert os.eventfd_read(b_own[1]) == 1
        os.set_blocking(b_own[0], False)
        try:
            os.eventfd_read(b_own[0])
            raise AssertionError("vector 0 was not rung")
        except BlockingIOError:
            pass
        # And back: B rings A's vector 0.
        os.eventfd_write(b_peers[a_id][0], 3)
        assert os.eventfd_read(a_own[0]) == 3

        c = connect(path)
        c_id, _, c_peers, _ = setup(c, 2)
        assert sorted(c_peers) == sorted([a_id, b_id]) and c_id not in (a_id, b_id)
        for s in (a, b):
            for _ in range(VECTORS):
                peer, fd = receive(s)
                assert peer == c_id and fd is not None

        # B leaves: A and C hear its ID without an fd.
        b.close()
        for s in (a, c):
            peer, fd = receive(s)
            assert peer == b_id and fd is None, "a leave is the ID without an fd"
        # A newcomer meets the peers still there, not B (whose ID is not handed out again at once).
        d = connect(path)
        d_id, _, d_peers, _ = setup(d, 2)
        assert d_id != b_id and sorted(d_peers) == sorted([a_id, c_id])
        print("ivshmem-server: protocol, shared memory, eventfds, joins and leaves: ok")
        return 0
    finally:
        server.terminate()
        server.wait()
        for root, _, files in os.walk(tmp):
            for name in files:
                os.unlink(os.path.join(root, name))
        os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main())
