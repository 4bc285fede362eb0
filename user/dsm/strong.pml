/*
 * The strong (single writer / multiple readers) protocol of user/dsm, one
 * page, N nodes, as a Promela model for spin (`make model-check`).
 *
 * What is modelled is what user/dsm/manager.c and holder.c do for strong
 * pages: requests go to a node's probable manager and are forwarded along
 * hints; the manager serves one request at a time (busy, a FIFO queue);
 * a write request invalidates every other copy, a read request downgrades
 * the writer, each with an ACK; the grant either hands a copy over (and the
 * transaction ends with the requester's GRANT_ACK) or, for a sole writer,
 * hands over the manager role with the directory, after which the old
 * manager forwards whatever queued behind it. Messages travel on FIFO
 * channels, one per ordered pair of nodes (a node's own messages included,
 * as in the implementation). The strong writer is always the manager, so
 * the manager's copy is the reference: the page's contents are modelled as
 * the number of the last write, which travels in grants.
 *
 * Checked (safety): single writer / multiple readers whenever access is
 * given (the only step that can break it); every
 * read sees the last write and every write starts from it (no lost write);
 * and, when everything has stopped, one manager whose directory agrees
 * with what every node holds. Not modelled: the hold window (a liveness
 * matter), Xfetch, and the release and weak models.
 */

#ifndef N
#define N 3             /* 2 or 3 */
#endif
#ifndef OPS
#define OPS 2           /* operations per node's application thread */
#endif

#define NONE 0
#define READ 1
#define WRITE 2

mtype = { REQ, GRANT, GRANT_ACK, INV, DOWN, ACK };

/* type, sender, origin (REQ) / access (GRANT) / kind (ACK), value, directory (base 3), migrate */
chan link[N * N] = [4] of { mtype, byte, byte, byte, byte, bit };
#define TO(from, to) link[(from) * N + (to)]

byte access[N];         /* what each node's segment maps */
byte value[N];          /* the number of the last write in each node's copy */
bit manager[N];
byte hint[N];
bit waiting[N];         /* the application thread waits in a fault */
byte latest;            /* the number of the last write made */

/* The directory, valid at the manager: dir[m * N + k] = what k holds. */
byte dir[N * N];
bit busy[N];
byte acks[N];
byte cur_origin[N];
byte cur_access[N];
chan queue[N] = [N] of { byte, byte };
byte done;

#define SWMR (!((access[0] == WRITE && (access[1] != NONE || (N > 2 && access[2] != NONE))) || \
                (access[1] == WRITE && (access[0] != NONE || (N > 2 && access[2] != NONE))) || \
                (N > 2 && access[2] == WRITE && (access[0] != NONE || access[1] != NONE))))

/* Pack / unpack the directory for migration (base 3, N <= 3). */
#define PACK(m) (dir[(m) * N] + 3 * dir[(m) * N + 1] + (N > 2 -> 9 * dir[(m) * N + 2] : 0))

inline start(me, origin, acc)
{
    busy[me] = 1;
    cur_origin[me] = origin;
    cur_access[me] = acc;
    acks[me] = 0;
    k = 0;
    do
    :: k < N ->
        if
#ifndef BUG_NO_INVALIDATE
        :: k != origin && dir[me * N + k] != NONE && acc == WRITE ->
            TO(me, k)!INV, me, 0, 0, 0, 0; acks[me]++
#endif
        :: k != origin && dir[me * N + k] == WRITE && acc == READ ->
            TO(me, k)!DOWN, me, 0, 0, 0, 0; acks[me]++
        :: else -> skip
        fi;
        k++
    :: else -> break
    od;
    if
    :: acks[me] == 0 -> finish(me)
    :: else -> skip
    fi
}

inline finish(me)
{
    o = cur_origin[me];
    if
    :: cur_access[me] == WRITE && o != me ->
        /* migrate: the new sole writer gets the directory */
        dir[me * N + o] = WRITE;
        TO(me, o)!GRANT, me, WRITE, value[me], PACK(me), 1;
        manager[me] = 0;
        hint[me] = o;
        busy[me] = 0;
        do
        :: queue[me]?q_origin, q_access -> TO(me, o)!REQ, me, q_origin, q_access, 0, 0
        :: empty(queue[me]) -> break
        od
    :: else ->
        dir[me * N + o] = cur_access[me];
        TO(me, o)!GRANT, me, cur_access[me], value[me], 0, 0
#ifdef BUG_NO_GRANT_ACK
        ; busy[me] = 0
#endif
        /* busy until the GRANT_ACK */
    fi
}

inline handle(me)
{
    if
    :: t == REQ ->
        if
        :: !manager[me] -> TO(me, hint[me])!REQ, me, a, v, 0, 0
        :: manager[me] && busy[me] -> queue[me]!a, v
        :: manager[me] && !busy[me] -> start(me, a, v)
        fi
    :: t == GRANT ->
        if
        :: mig ->
            manager[me] = 1;
            hint[me] = me;
            dir[me * N] = d % 3;
            dir[me * N + 1] = (d / 3) % 3;
            if :: N > 2 -> dir[me * N + 2] = (d / 9) % 3 :: else -> skip fi
        :: else -> hint[me] = s
        fi;
        value[me] = v;
        access[me] = a;
        assert(SWMR);   /* the only step that gives access: checked at every one */
        waiting[me] = 0;
        if
        :: !mig -> TO(me, s)!GRANT_ACK, me, 0, 0, 0, 0
        :: else -> skip
        fi
    :: t == GRANT_ACK ->
        busy[me] = 0;
        if
        :: queue[me]?q_origin, q_access -> start(me, q_origin, q_access)
        :: empty(queue[me]) -> skip
        fi
    :: t == INV ->
        access[me] = NONE;
        if :: !manager[me] -> hint[me] = s :: else -> skip fi;
        TO(me, s)!ACK, me, INV, 0, 0, 0
    :: t == DOWN ->
        if :: access[me] == WRITE -> access[me] = READ :: else -> skip fi;
        if :: !manager[me] -> hint[me] = s :: else -> skip fi;
        TO(me, s)!ACK, me, DOWN, 0, 0, 0
    :: t == ACK ->
        if
        :: a == INV -> dir[me * N + s] = NONE
        :: a == DOWN && dir[me * N + s] == WRITE -> dir[me * N + s] = READ
        :: else -> skip
        fi;
        acks[me]--;
        if :: acks[me] == 0 -> finish(me) :: else -> skip fi
    fi
}

/* A node: its engine, taking one message at a time from any sender, and
 * its application thread, which makes OPS reads or writes of the page. A
 * fault asks the node's probable manager (or the node itself if it manages
 * the page) and waits for the grant. The two are one process whose steps
 * interleave freely: each engine step handles one message, each
 * application step is one access or one fault. */
proctype node(byte me)
{
    mtype t;
    byte s, a, v, d, k, o, q_origin, q_access;
    bit mig;
    byte ops = 0, want;
    if :: want = READ :: want = WRITE fi;
end:
    do
    :: atomic { TO(0, me)?t, s, a, v, d, mig -> handle(me) }
    :: atomic { TO(1, me)?t, s, a, v, d, mig -> handle(me) }
#if N > 2
    :: atomic { TO(2, me)?t, s, a, v, d, mig -> handle(me) }
#endif
    :: atomic { ops < OPS && access[me] >= want ->
        assert(value[me] == latest);
        if
        :: want == WRITE -> latest++; value[me] = latest
        :: else -> skip
        fi;
        ops++;
        if :: ops == OPS -> done++ :: else -> skip fi;
        if :: want = READ :: want = WRITE fi }
    :: atomic { ops < OPS && access[me] < want && !waiting[me] ->
        waiting[me] = 1;
        if
        :: manager[me] -> TO(me, me)!REQ, me, me, want, 0, 0
        :: else -> TO(me, hint[me])!REQ, me, me, want, 0, 0
        fi }
    od
}

/* When everything has stopped: one manager, a directory that agrees with
 * every node, nothing in flight. */
active proctype quiescent()
{
    byte m, k;
end:
    atomic {
        done == N && timeout ->
        m = 0;
        do
        :: m < N && !manager[m] -> m++
        :: else -> break
        od;
        assert(m < N && !busy[m]);
        k = 0;
        do
        :: k < N -> assert(k == m || !manager[k]); assert(dir[m * N + k] == access[k]); k++
        :: else -> break
        od
    }
}

init
{
    byte i;
    atomic {
        /* the page starts at node 0, nobody holding it */
        manager[0] = 1;
        i = 0;
        do
        :: i < N -> hint[i] = 0; run node(i); i++
        :: else -> break
        od
    }
}
