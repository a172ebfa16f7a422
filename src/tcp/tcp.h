/* TCP's inside: the connection block (FreeBSD's tcpcb, with RFC 9293's
 * names), the per-stack TCP tables, and the entry points between the files:
 *
 *   tcp_table.c  the established 4-tuple hash, listeners, bound ports, ISNs
 *   tcp_minisocks.c  TIME_WAIT and SYN_RECV without a tcpcb: small records
 *   tcp_input.c  RFC 9293 §3.10.7 SEGMENT ARRIVES, per state
 *   tcp_recv.c   the receive side: in-order data, the out-of-order queue,
 *                the advertised window and receive autotuning
 *   tcp_ack.c    an arriving ACK: SACK, RTT, loss detection, recovery (PRR)
 *   tcp_rtx.c    the retransmission queue: a record per segment in flight
 *   tcp_rack.c   RACK-TLP loss detection (RFC 8985)
 *   tcp_undo.c   undoing a cwnd cut that D-SACKs or timestamps show needless
 *   tcp_output.c what to send: retransmissions, data, ACK, FIN, window;
 *                segmentation, Nagle
 *   tcp_timer.c  RTO, delayed ACK, persist, keepalive, FIN_WAIT2, TIME_WAIT
 *   tcp_icmp.c   ICMP errors: path MTU discovery, failed connects
 *   tcp_sock.c   the socket calls for US_SOCK_STREAM
 *   tcp_info.c   struct us_tcp_info and the ss -tim lines
 *
 * A connection is a struct us_tcpcb. A socket (struct us_sock) points to
 * it; an accepted connection exists before its socket does (tp->sk NULL
 * until us_accept) and a closed one after (orphaned: FIN_WAIT, TIME_WAIT),
 * so the byte queues live here, not in the socket. */
#ifndef USTACK_TCP_TCP_H
#define USTACK_TCP_TCP_H

#include "ustack/socket.h"
#include "core/stack_impl.h"
#include "tcp/tcp_cc.h"
#include "tcp/tcp_ofo.h"
#include "tcp/tcp_rtx.h"
#include "tcp/tcp_seq.h"

struct us_sock;

/* Linux's constants (include/net/tcp.h). */
#define US_TCP_RTO_MIN      (200 * US_NS_PER_MS)
#define US_TCP_RTO_MAX      (120 * US_NS_PER_SEC)
#define US_TCP_TIMEOUT_INIT (1 * US_NS_PER_SEC) /* RFC 6298 §2.1 */
#define US_TCP_DELACK_MAX   (200 * US_NS_PER_MS)
#define US_TCP_DELACK_MIN   (40 * US_NS_PER_MS)
#define US_TCP_TIMEWAIT_LEN (60 * US_NS_PER_SEC)
#define US_TCP_MSS_DEFAULT  536 /* RFC 9293 §3.7.1 without an MSS option */
#define US_TCP_MAX_WSCALE   14
#define US_TCP_QUICKACKS    16 /* Linux's TCP_MAX_QUICKACKS */

#define US_TCP_EHASH_MIN  256   /* established buckets at first; doubles with the load */
#define US_TCP_BHASH_SIZE 65536 /* bound-port / listener buckets: one per port */

/* Flags in tp->flags. */
enum {
    TF_ACKNOW = 1 << 0,     /* send an ACK at the next output */
    TF_DELACK = 1 << 1,     /* an ACK is owed, the delayed-ACK timer runs */
    TF_NODELAY = 1 << 2,    /* TCP_NODELAY */
    TF_CORK = 1 << 3,       /* TCP_CORK */
    TF_FIN_QUEUED = 1 << 4, /* shutdown(WR)/close: FIN after the queued data */
    TF_FIN_SENT = 1 << 5,
    TF_RCVD_FIN = 1 << 6,
    TF_WSCALE = 1 << 7,       /* window scaling negotiated */
    TF_TSTAMP = 1 << 8,       /* timestamps negotiated */
    TF_SACK = 1 << 9,         /* SACK permitted both ways */
    TF_RCVBUF_LOCK = 1 << 10, /* SO_RCVBUF set: no autotuning (SOCK_RCVBUF_LOCK) */
    TF_SNDBUF_LOCK = 1 << 11,
    TF_KEEPALIVE = 1 << 12,
    TF_QUEUED = 1 << 13, /* on the stack's output list */
    TF_IN_RECOVERY = 1 << 14,
    TF_SYNCOOKIE = 1 << 15,    /* created from a SYN cookie */
    TF_LOSS = 1 << 16,         /* after a timeout, until recover is ACKed (Linux's CA_Loss) */
    TF_ORPHAN = 1 << 17,       /* closed by the application, counted in n_orphans */
    TF_URGINLINE = 1 << 18,    /* SO_OOBINLINE: urgent bytes stay in the stream */
    TF_URG_MODE = 1 << 19,     /* snd_up is set: urgent data not yet acknowledged */
    TF_CSUM_OFFLOAD = 1 << 20, /* the route's device completes checksums (US_DEV_F_TX_CSUM) */
};

/* tp->urg_data (Linux's TCP_URG_*): the urgent byte's state, and in the
 * low 8 bits the byte itself once it has arrived. */
enum {
    US_TCP_URG_VALID = 0x100,  /* arrived, not yet read with MSG_OOB */
    US_TCP_URG_NOTYET = 0x200, /* the pointer arrived, the byte not yet */
    US_TCP_URG_READ = 0x400,   /* read with MSG_OOB */
};

/* What only a connection that has sent something needs: RACK's newest
 * delivered segment and reordering window, the undo record of a
 * congestion response, PRR's counts and the loss probe's episode. Allocated
 * with the first segment put in the retransmission queue (tcp_loss.c),
 * freed with the tcpcb; until then tp->loss is NULL, and every path that
 * reads it runs only with records sent (or checks). */
struct us_tcp_loss {
    struct {
        us_time_ns xmit_time; /* of the most recently sent segment delivered */
        us_time_ns rtt;       /* its RTT */
        uint32_t end_seq;     /* its end */
        uint32_t dsack_round; /* no second step before snd_una passes this */
        bool reord;           /* the path was seen to reorder */
        uint8_t reo_steps;    /* reo_wnd in quarters of min_rtt, grown by D-SACKs */
        uint8_t reo_persist;  /* recoveries the grown window lasts */
    } rack;                   /* RFC 8985 §6 (min_rtt and fack: in the tcpcb) */
    bool tlp_retrans;         /* the probe was a retransmission */
    uint32_t tlp_end;         /* snd_max when the probe went */
    /* Undo (tcp_undo.c), while tp->undo_active: the episode's start and what it cut. */
    uint32_t undo_marker;  /* snd_una when the episode began */
    uint32_t undo_retrans; /* its retransmissions not yet D-SACKed */
    uint32_t undo_cwnd, undo_ssthresh;
    uint32_t retrans_stamp;                      /* timestamp clock at its first retransmission */
    uint32_t prr_delivered, prr_out, recover_fs; /* PRR (RFC 6937) */
};

/* A listener's queues (LISTEN only): allocated by listen, freed with the
 * tcpcb, so connections do not carry them. */
struct us_tcp_listen {
    struct us_tcpcb *acceptq_head, *acceptq_tail; /* children not yet accepted */
    int acceptq_len, backlog;
    int synq_len; /* children in SYN_RECV */
};

struct us_tcpcb {
    /* Every connection has one of these: fields are grouped so that the
     * struct has no holes (issue 10's target is a few hundred bytes per idle
     * connection); a new field goes where it fills a hole. */
    struct us_sock *sk;                   /* NULL while unaccepted or orphaned */
    struct us_tcpcb *listener;            /* for an unaccepted child */
    struct us_tcpcb *ehash_next, *lnext;  /* established chain; accept/syn queue link */
    struct us_tcpcb *all_next, *all_prev; /* every connection, for the timers */
    struct us_tcpcb *out_next;            /* stack's output list */
    int state;                            /* enum us_tcp_state */
    uint32_t flags;

    us_ip4 laddr, faddr;
    uint16_t lport, fport;
    bool in_ehash;
    bool dead;          /* freed: waits in the graveyard for the end of the round */
    bool wake;          /* the socket needs a wake-up at the end of this segment */
    bool dsack_pending; /* dsack below is to be reported */

    /* Send sequence space (RFC 9293 §3.3.1). snd_nxt: the next new byte;
     * snd_max: highest sent + 1 (the same once connected: retransmissions
     * come from the retransmission queue, snd_nxt never moves back). */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, snd_up;
    uint32_t max_sndwnd;
    /* Receive sequence space. rcv_adv: the right edge we advertised. */
    uint32_t irs, rcv_nxt, rcv_wnd, rcv_adv, rcv_up;
    uint8_t snd_wscale, rcv_wscale; /* snd: the peer's shift; rcv: ours */
    uint16_t mss;                   /* effective send MSS (payload) */
    uint16_t rcv_mss;               /* peer's MSS estimate for delayed ACKs */
    uint16_t advmss;                /* what we announced */
    uint16_t user_mss;              /* TCP_MAXSEG */
    /* Urgent data received (tcp_recv.c, Linux's tcp_urg): copied_seq is
     * the next byte the application reads (rcv_nxt - rcv_queued until a
     * FIN); urg_seq the urgent byte's sequence number, valid while
     * urg_data (US_TCP_URG_*) is not 0. */
    uint16_t urg_data;
    /* The largest IP datagram of a super-frame (TSO) the route's device
     * takes, 0 if none: us_tcp_route_caps. */
    uint16_t gso_max;
    uint32_t copied_seq, urg_seq;

    /* Send buffer: a ring of sndbuf bytes holding [snd_una, snd_una+snd_len),
     * without SYN and FIN. */
    uint8_t *sbuf;
    uint32_t sbuf_cap, sbuf_head, snd_len;
    int sndbuf;

    /* Receive queue: segments with data/len = their payload, in order;
     * rcv_queued payload bytes unread. */
    struct us_pkt_queue rcvq;
    uint32_t rcv_queued;
    int rcvbuf;
    struct us_tcp_ofo *ofo; /* the out-of-order queue; NULL while empty (tcp_ofo_lazy.c) */
    uint32_t fin_seq;       /* of a FIN received out of order (TF_RCVD_FIN) */
    /* A duplicate to report in the next ACK (RFC 2883 D-SACK), if dsack_pending. */
    struct us_tcp_sack_block dsack;
    uint32_t rtt_seq; /* see rto_var below */

    /* RTT (RFC 6298) in ns. */
    us_time_ns srtt, rttvar, rto;
    /* The timeout's variance term (Linux's rttvar_us): the largest
     * 4 RTTVAR of a round trip (mdev_max), at least tcp_rto_min; a round
     * ends when snd_una passes rtt_seq. */
    us_time_ns rto_var, mdev_max;
    us_time_ns rtt_time;  /* the SYN's or SYN-ACK's RTT: when it was sent */
    uint32_t backoff;     /* RTO doublings in a row */
    uint32_t retransmits; /* timeouts in a row for this snd_una */
    uint32_t syn_retries;
    uint32_t persist_backoff;
    us_time_ns rto_at, delack_at, persist_at, keep_at, tw_at, fin2_at;
    /* The stack's timer heap (tcp_timer.c): filed under timer_key, never
     * later than the earliest deadline above; a deadline that moves later
     * leaves the entry alone until it comes due (lazy re-arming). */
    us_time_ns timer_key;
    struct us_tcpcb *th_child, *th_next, *th_prev; /* pairing-heap links */
    bool th_filed;                                 /* in the heap */
    bool th_in_due;   /* on the poll's list of due ones, linked by th_next */
    bool rtt_timing;  /* the SYN is being timed (data: tcp_ack.c, from the records) */
    bool undo_active; /* an undo record is kept (tp->loss) */
    bool tlp_active;  /* a loss probe's episode is open (tp->loss->tlp_end) */

    /* Timestamps (RFC 7323 §3-4). */
    uint32_t ts_recent, ts_offset;
    us_time_ns ts_recent_age;
    uint32_t last_ack_sent;

    /* Congestion control and loss recovery. */
    uint32_t dupacks;
    struct us_tcp_cc_state cc;
    uint32_t reno_sacked;     /* no SACK: bytes the duplicate ACKs say left the network */
    uint32_t cwnd_extra;      /* bytes a loss probe may send beyond cwnd */
    uint32_t recover;         /* snd_max when recovery or the timeout began (RFC 6582 §3.2) */
    uint32_t tlp_probes;      /* loss probes since an ACK last delivered data */
    struct us_tcp_rtx rtx;    /* the segments in flight (tcp_rtx.h) */
    struct us_tcp_loss *loss; /* NULL until the first segment is recorded (tcp_loss.c) */
    struct us_tcp_listen *lq; /* LISTEN: the accept and SYN queues; else NULL */
    struct {
        us_time_ns min_rtt;
        uint32_t fack;         /* the highest sequence number SACKed */
    } rack;                    /* RFC 8985 §6 (the rest in tp->loss) */
    us_time_ns reo_at, tlp_at; /* RACK's reordering timer, the loss probe */
    us_time_ns lsndtime;       /* when data last went out (Linux's lsndtime): idle restarts */

    /* Receive autotuning (tcp_rcv_space_adjust). */
    uint32_t rcvq_space, rcvq_copied_at_start;
    us_time_ns rcvq_time;
    uint64_t copied;
    us_time_ns rcv_rtt;    /* receiver's RTT estimate */
    us_time_ns rcv_rtt_at; /* when a non-TS sample started (0 = none) */
    uint32_t rcv_rtt_seq;  /* non-TS estimate: rcv_nxt passing it ends one sample */
    uint32_t quickack;     /* ACKs still to send at once (quick ACK mode) */
    uint32_t unacked_segs; /* full segments received since the last ACK */

    /* Keepalive (per socket, seconds; 0 = the sysctl). */
    int keepidle, keepintvl, keepcnt;
    uint32_t keep_probes;

    /* Counters for tcp_info. */
    uint32_t segs_out, segs_in, total_retrans;
    int soft_err; /* an ICMP error, reported if the connection times out */
    uint64_t bytes_acked, bytes_received, bytes_sent, bytes_retrans;
    us_time_ns last_oow_ack; /* the last ACK to an unacceptable segment (rate limit) */
};

/* The established hash (tcp_table.c): ehash_mask + 1 buckets, doubled
 * when the connections outnumber them. The doubling is incremental: while
 * ehash_old is set, its buckets from old_pos up still hold their
 * connections (added ones too), and each addition moves two of them, so no
 * single segment pays for rehashing a million connections. */
struct us_tcp_ehash {
    struct us_tcpcb **bucket;
    uint32_t mask;
    uint32_t count; /* connections in either array */
    struct us_tcpcb **old;
    uint32_t old_mask, old_pos;
};

/* Minisocks (tcp_minisocks.c): records far smaller than a tcpcb for a
 * pair in TIME_WAIT and for a half-open connection of a listener (Linux's
 * inet_timewait_sock and request_sock). Each kind is a pool of fixed-size
 * records in chunks, addressed by index + 1 (0 = none), a hash of the
 * 4-tuple looked up after the established one, and FIFOs in expiry order
 * (TIME_WAIT: one; requests: one per SYN-ACK backoff, so each holds equal
 * timeouts in the order they were set). */
#define US_TCP_MINI_FIFOS 8
struct us_tcp_mini_table {
    uint8_t **chunk;        /* records in chunks of US_TCP_MINI_CHUNK */
    uint32_t n_chunks, cap; /* chunks allocated; records they hold */
    uint32_t size;          /* bytes per record */
    uint32_t free;          /* free list through the records' hash links */
    uint32_t *bucket;       /* hash heads, mask + 1 of them */
    uint32_t mask;
    uint32_t count;
    uint32_t head[US_TCP_MINI_FIFOS], tail[US_TCP_MINI_FIFOS];
};

struct us_tcp_table {
    struct us_tcp_ehash ehash;
    struct us_tcp_mini_table tw;  /* TIME_WAIT records */
    struct us_tcp_mini_table req; /* SYN_RECV records (request socks) */
    struct us_sock **bhash;       /* bound stream sockets, via sk->hash_next, by port */
    struct us_tcpcb *all;         /* every tcpcb */
    struct us_tcpcb *outq;        /* tcpcbs with output pending */
    struct us_tcpcb *graveyard;   /* freed this round, released later */
    uint32_t n_tw;                /* connections in TIME_WAIT: tcpcbs and records */
    uint32_t n_orphans;
    struct us_tcpcb *timer_heap; /* root: the connection due first (tcp_timer.c) */
    uint64_t isn_secret[2];
    uint32_t cookie_secret;
    uint64_t challenge_sec;  /* the second tcp_challenge_ack_limit counts in */
    uint32_t challenge_left; /* challenge ACKs still allowed in it */
    us_tcp_isn_fn isn_hook;
    void *isn_ctx;
    /* Tests: this many allocations of an out-of-order queue fail, as
     * without memory (tests/sim/test_sim_tcp_ofo_nomem.c). */
    uint32_t ofo_nomem;
    uint32_t loss_nomem; /* the same for the loss-recovery block (tcp_loss.c) */
};

/* ---- tcp_table.c ---- */
int us_tcp_table_init(struct us_stack *s);
void us_tcp_table_free(struct us_stack *s);
struct us_tcpcb *us_tcp_lookup_established(struct us_stack *s, us_ip4 laddr, uint16_t lport,
                                           us_ip4 faddr, uint16_t fport);
struct us_tcpcb *us_tcp_lookup_listener(struct us_stack *s, us_ip4 laddr, uint16_t lport);
void us_tcp_ehash_add(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_ehash_del(struct us_stack *s, struct us_tcpcb *tp);
/* Whether the 4-tuple is taken: a connection, or a pair in TIME_WAIT. */
bool us_tcp_tuple_in_use(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                         uint16_t fport);
int us_tcp_bind_port(struct us_stack *s, struct us_sock *sk, us_ip4 addr, uint16_t port);
/* An ephemeral port for a connection to faddr:fport (4-tuple unique). */
int us_tcp_connect_port(struct us_stack *s, struct us_sock *sk, us_ip4 faddr, uint16_t fport);
void us_tcp_unbind(struct us_stack *s, struct us_sock *sk);
uint32_t us_tcp_new_isn(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                        uint16_t fport);
/* The keyed hash of a 4-tuple behind the ehash, ISNs and SYN cookies. */
uint64_t us_tcp_tuple_hash(uint64_t key, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                           uint16_t fport);
uint32_t us_tcp_ts_offset(struct us_stack *s, us_ip4 laddr, us_ip4 faddr);
struct us_tcpcb *us_tcpcb_new(struct us_stack *s);
/* Unhashes and unlinks tp and marks it dead; its memory goes at the end
 * of the round (us_tcp_reap), so callers up the stack may still read it. */
void us_tcpcb_free(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_reap(struct us_stack *s);
void us_tcp_set_state(struct us_stack *s, struct us_tcpcb *tp, int state);
/* Connection gone (tcp_done): CLOSED, the socket told, the tcpcb freed if orphaned. */
void us_tcp_done(struct us_stack *s, struct us_tcpcb *tp);
/* Reports err to the socket (or keeps it for accept) and ends the connection. */
void us_tcp_drop(struct us_stack *s, struct us_tcpcb *tp, int err);
/* Wakes the socket's sleepers and its readiness callback. */
void us_tcp_wake(struct us_stack *s, struct us_tcpcb *tp);
/* The route MTU - 40 for faddr. */
uint16_t us_tcp_route_mss(struct us_stack *s, us_ip4 faddr);
/* What the device towards tp->faddr offers TCP (Linux's sk_route_caps):
 * sets tp->gso_max and TF_CSUM_OFFLOAD. */
void us_tcp_route_caps(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_enter_time_wait(struct us_stack *s, struct us_tcpcb *tp);
/* No longer an orphan to count (freed, or in TIME_WAIT). */
void us_tcp_unorphan(struct us_stack *s, struct us_tcpcb *tp);
/* Buffers for a new connection: none now (the send ring comes with the
 * first send). 0 or -ENOMEM. */
int us_tcp_alloc_buffers(struct us_stack *s, struct us_tcpcb *tp);
/* The send ring grown (not past sndbuf) for len more bytes. 0 or -ENOMEM. */
int us_tcp_sbuf_reserve(struct us_tcpcb *tp, uint32_t len);

/* ---- tcp_minisocks.c ---- */
/* The orphaned TIME_WAIT tcpcb tp becomes a record that expires at tp->tw_at;
 * tp is freed. Nothing happens (tp stays) if no record can be had. */
void us_tcp_tw_from_tcpcb(struct us_stack *s, struct us_tcpcb *tp);
/* The pair's TIME_WAIT record (a reference, index + 1), or 0. */
uint32_t us_tcp_tw_lookup(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                          uint16_t fport);
/* A segment for TIME_WAIT record ref (tcp_timewait_state_process); true: a
 * SYN that reopens the pair, the record is gone. */
bool us_tcp_tw_input(struct us_stack *s, uint32_t ref, const struct us_tcp_view *th);
/* Whether a SYN to a pair in TIME_WAIT (a tcpcb or a record) may reopen it:
 * by its timestamp when the pair used them, else by its sequence number. */
bool us_tcp_tw_syn_is_newer(const struct us_tcp_view *th, uint32_t rcv_nxt, bool tstamp,
                            uint32_t ts_recent);
void us_tcp_tw_print(struct us_stack *s, FILE *out);
/* A listener's child just created in SYN_RECV (its SYN-ACK sent) becomes
 * a request record; tp is freed. Nothing happens if no record can be had. */
void us_tcp_req_from_tcpcb(struct us_stack *s, struct us_tcpcb *tp);
/* The pair's request record, or 0. */
uint32_t us_tcp_req_lookup(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                           uint16_t fport);
/* A segment arrived for request ref: the child tcpcb it stands for, in
 * SYN_RECV as it would have been all along (NULL without memory). */
struct us_tcpcb *us_tcp_req_inflate(struct us_stack *s, uint32_t ref);
/* The listener l goes: its requests with it. */
void us_tcp_req_purge(struct us_stack *s, const struct us_tcpcb *l);
/* Expires the records that are due, retransmits requests' SYN-ACKs; the
 * next expiry (the poll hook in us_tcp_timers). */
us_time_ns us_tcp_minisock_timers(struct us_stack *s, us_time_ns now);
void us_tcp_minisocks_free(struct us_stack *s);

/* ---- tcp_input.c ---- */
/* The FIN at rcv_nxt is in order now: RFC 9293 §3.10.7.4 eighth step. */
void us_tcp_fin(struct us_stack *s, struct us_tcpcb *tp);
/* Negotiated options and windows of a new connection from the peer's SYN. */
void us_tcp_syn_options(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_view *th);
/* Our window scale for a new connection (tcp_select_initial_window). */
uint8_t us_tcp_choose_wscale(struct us_stack *s, const struct us_tcpcb *tp);
uint8_t us_tcp_wscale_for(struct us_stack *s, bool rcvbuf_locked, int rcvbuf);
void us_tcp_init_cc(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_send_reset_reply(struct us_stack *s, const struct us_ipv4_view *ip,
                             const struct us_tcp_view *in);

/* ---- tcp_syncookies.c ---- */
/* What a cookie's timestamp kept of the SYN's options. */
struct us_tcp_cookie_opts {
    bool tstamp;    /* the ACK echoed a cookie timestamp */
    bool wscale_ok; /* the SYN offered window scaling */
    uint8_t snd_wscale;
    bool sack_ok;
};
/* A SYN-ACK to listener l whose ISN encodes the connection, and whose
 * timestamp (if the SYN had one) its options (no state kept). */
void us_tcp_send_cookie_synack(struct us_stack *s, const struct us_tcpcb *l,
                               const struct us_ipv4_view *ip, const struct us_tcp_view *th);
/* The MSS a valid cookie in this ACK (ack - 1) encodes, or 0; the options
 * its echoed timestamp carries in *o. */
uint16_t us_tcp_cookie_check(struct us_stack *s, const struct us_ipv4_view *ip,
                             const struct us_tcp_view *th, struct us_tcp_cookie_opts *o);

/* ---- tcp_ofo_lazy.c: the out-of-order queue, allocated while it holds data ---- */
static inline bool us_tcp_has_ofo(const struct us_tcpcb *tp)
{
    return tp->ofo != NULL;
}
static inline uint32_t us_tcp_ofo_bytes(const struct us_tcpcb *tp)
{
    return tp->ofo ? tp->ofo->bytes : 0;
}
/* Holds a segment (payload at seq) beyond rcv_nxt, allocating the queue
 * first; consumes pkt. Without memory: US_TCP_OFO_DROPPED_LIMIT. */
enum us_tcp_ofo_result us_tcp_ofo_hold(struct us_stack *s, struct us_tcpcb *tp, struct us_pkt *pkt,
                                       uint32_t seq);
/* The next held segment now in order at rcv_nxt, or NULL; frees the queue
 * when it empties. */
struct us_pkt *us_tcp_ofo_next(struct us_tcpcb *tp);
/* Frees whatever is held, and the queue. */
void us_tcp_ofo_drop_all(struct us_tcpcb *tp);

/* ---- tcp_loss.c ---- */
/* tp->loss allocated if it is not yet: by the first send, and before the
 * first record goes into the retransmission queue. 0 or -ENOMEM. */
int us_tcp_loss_reserve(struct us_stack *s, struct us_tcpcb *tp);

/* ---- tcp_recv.c ---- */
/* Queues in-window payload (pkt data/len = payload, seq its first byte). */
void us_tcp_data_queue(struct us_stack *s, struct us_tcpcb *tp, struct us_pkt *pkt, uint32_t seq);
/* A segment of len bytes at seq that arrived again, below rcv_nxt: the
 * next ACK reports it as a D-SACK (RFC 2883). */
void us_tcp_dsack_old(struct us_stack *s, struct us_tcpcb *tp, uint32_t seq, uint32_t len);
/* The window to advertise now (unscaled bytes), Linux's tcp_select_window. */
uint32_t us_tcp_select_window(struct us_stack *s, struct us_tcpcb *tp);
uint32_t us_tcp_rcv_space(const struct us_tcpcb *tp);
/* Copies up to len in-order bytes; the count. */
size_t us_tcp_read(struct us_stack *s, struct us_tcpcb *tp, void *buf, size_t len, bool peek);
void us_tcp_rcv_space_adjust(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_rcv_rtt_sample(struct us_tcpcb *tp, us_time_ns rtt);
/* After the window opened enough that the peer should hear it. */
void us_tcp_maybe_window_update(struct us_stack *s, struct us_tcpcb *tp);
/* The URG bit and pointer of an acceptable segment (RFC 9293 §3.10.7.4
 * sixth step, Linux's tcp_urg), before its text is queued; pkt holds the
 * payload. */
void us_tcp_urg(struct us_tcpcb *tp, const struct us_tcp_view *th, const struct us_pkt *pkt);
/* recv(MSG_OOB) (tcp_recv_urg): the urgent byte into buf, 1 (0 if len is
 * 0), or -EINVAL / -EAGAIN, 0 after the peer's FIN. */
int us_tcp_recv_urg(struct us_tcpcb *tp, const struct us_sock *sk, void *buf, size_t len,
                    bool peek);
/* Whether the read position is at the urgent mark (SIOCATMARK). */
bool us_tcp_at_mark(const struct us_tcpcb *tp);

/* Urgent mode on the send side (Linux's tcp_urg_mode): snd_up is ahead of
 * snd_una. */
static inline bool us_tcp_urg_mode(const struct us_tcpcb *tp)
{
    return (tp->flags & TF_URG_MODE) && us_seq_gt(tp->snd_up, tp->snd_una);
}

/* ---- tcp_output.c ---- */
/* Sends what the windows allow (data, FIN, ACK). */
void us_tcp_output(struct us_stack *s, struct us_tcpcb *tp);
/* Sends a SYN or SYN-ACK (retransmissions too). */
void us_tcp_send_syn(struct us_stack *s, struct us_tcpcb *tp);
/* A bare ACK now (challenge ACKs, dup ACKs, window probes with seq). */
void us_tcp_send_ack(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_send_rst(struct us_stack *s, struct us_tcpcb *tp);
/* A zero-window probe (one byte beyond snd_una's window, or an old seq). */
void us_tcp_send_probe(struct us_stack *s, struct us_tcpcb *tp);
/* Queues tp for output at the end of the round (one ACK per burst). */
void us_tcp_schedule_output(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_flush_output(struct us_stack *s);
uint32_t us_tcp_flight(const struct us_tcpcb *tp);
uint32_t us_tcp_ts_now(const struct us_tcpcb *tp, us_time_ns now);

/* Retransmits record i of the retransmission queue (split to one segment
 * first). 0 or -1. */
int us_tcp_retransmit_seg(struct us_stack *s, struct us_tcpcb *tp, uint32_t i);

/* ---- tcp_ack.c ---- */
/* The ACK of a segment that passed the range checks: wnd its window, scaled. */
void us_tcp_ack(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_view *th,
                uint32_t seg_len, bool fin, uint32_t wnd);
/* Bytes in the network (RFC 6675 §4 pipe). */
uint32_t us_tcp_pipe(const struct us_tcpcb *tp);
/* Grows the send buffer with cwnd (tcp_sndbuf_expand). */
void us_tcp_sndbuf_expand(struct us_stack *s, struct us_tcpcb *tp);
/* Loss found outside recovery: the congestion response starts. */
void us_tcp_enter_recovery(struct us_stack *s, struct us_tcpcb *tp);

/* ---- tcp_undo.c ---- */
/* A congestion response begins (before cwnd and ssthresh change). */
void us_tcp_undo_init(struct us_tcpcb *tp);
void us_tcp_undo_retransmitted(struct us_stack *s, struct us_tcpcb *tp);
/* A D-SACK block [left, right) arrived. */
void us_tcp_undo_dsack(struct us_tcpcb *tp, uint32_t left, uint32_t right);
/* Whether this ACK shows the episode's retransmissions were not needed. */
bool us_tcp_undo_possible(const struct us_tcpcb *tp, const struct us_tcp_view *th);
/* Restores cwnd and ssthresh; unmark_loss: after a timeout, what it marked
 * lost is not resent. */
void us_tcp_undo(struct us_tcpcb *tp, bool unmark_loss);

/* ---- tcp_rack.c ---- */
/* A record this ACK delivered (newly SACKed, or cumulatively ACKed). */
void us_tcp_rack_delivered(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_seg *g);
/* Marks the records RACK deems lost; the bytes newly marked. */
uint32_t us_tcp_rack_detect_loss(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_rack_reo_timeout(struct us_stack *s, struct us_tcpcb *tp);
/* Arms the loss probe after new data went out or the left edge moved. */
void us_tcp_tlp_schedule(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_tlp_fire(struct us_stack *s, struct us_tcpcb *tp);
/* A D-SACK arrived: the reordering window grows (RFC 8985 §6.2 step 4). */
void us_tcp_rack_dsack(struct us_tcpcb *tp);
/* A recovery began: a grown window shrinks back after 16 without D-SACKs. */
void us_tcp_rack_recovery(struct us_tcpcb *tp);
/* Whether an outstanding probe repaired a loss (RFC 8985 §7.4). */
void us_tcp_tlp_ack(struct us_stack *s, struct us_tcpcb *tp, uint32_t ack, bool dsack,
                    bool pure_dup);

/* ---- tcp_timer.c ---- */
us_time_ns us_tcp_timers(struct us_stack *s, us_time_ns now);
/* Sets tp's deadline *slot (one of its *_at fields) to when. O(1) unless
 * the deadline is earlier than any tp already had (O(log n) amortised). */
void us_tcp_timer_arm(struct us_stack *s, struct us_tcpcb *tp, us_time_ns *slot, us_time_ns when);
void us_tcp_rearm_rto(struct us_stack *s, struct us_tcpcb *tp);
/* Counts a SYN or SYN-ACK about to be sent again after its timer: one more
 * retry and back-off step, no RTT sample from it (Karn), the counters. */
void us_tcp_syn_retransmitting(struct us_stack *s, struct us_tcpcb *tp);
void us_tcp_rtt_sample(struct us_tcpcb *tp, us_time_ns rtt);
void us_tcp_reset_keepalive(struct us_stack *s, struct us_tcpcb *tp);
/* tcp_prefetch.c: the connections of a receive batch's frames into the cache. */
void us_tcp_prefetch_batch(struct us_stack *s, struct us_pkt *const *frames, int n);

/* ---- tcp_sock.c: the socket calls, dispatched from src/sock/socket.c ---- */
int us_tcp_sock_init(struct us_stack *s, struct us_sock *sk);
int us_tcp_bind(struct us_stack *s, struct us_sock *sk, const struct us_sockaddr_in *addr);
int us_tcp_listen(struct us_stack *s, struct us_sock *sk, int backlog);
int us_tcp_accept(struct us_stack *s, struct us_sock *sk, struct us_sockaddr_in *peer);
int us_tcp_connect(struct us_stack *s, struct us_sock *sk, const struct us_sockaddr_in *addr);
int us_tcp_send(struct us_stack *s, struct us_sock *sk, const void *buf, size_t len, int flags);
int us_tcp_recv(struct us_stack *s, struct us_sock *sk, void *buf, size_t len, int flags);
int us_tcp_shutdown(struct us_stack *s, struct us_sock *sk, int how);
/* quiet: the stack is being freed, nothing is sent. */
void us_tcp_sock_close(struct us_stack *s, struct us_sock *sk, bool quiet);
int us_tcp_events(const struct us_sock *sk);
/* Return 1 for an option the generic socket code handles. */
int us_tcp_sock_setsockopt(struct us_stack *s, struct us_sock *sk, int level, int opt,
                           const void *val, size_t vallen);
int us_tcp_sock_getsockopt(struct us_stack *s, struct us_sock *sk, int level, int opt, void *val,
                           size_t *vallen);

/* ---- tcp_info.c ---- */
void us_tcp_get_info(const struct us_stack *s, const struct us_tcpcb *tp, struct us_tcp_info *ti);
void us_tcp_print_sock(struct us_stack *s, const struct us_tcpcb *tp, int fd, FILE *out);
void us_tcp_print_orphans(struct us_stack *s, FILE *out);

#endif
