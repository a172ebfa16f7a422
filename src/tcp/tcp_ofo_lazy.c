/* A connection's out-of-order queue exists only while it holds segments:
 * allocated by the first segment that arrives beyond a hole, freed when
 * the hole is filled or the connection lets go of what it held. An idle
 * connection (most of them, with many connections) carries a pointer
 * instead of the queue's 80 bytes. Without memory for the queue the
 * segment is dropped and counted as TCPOFODrop, as Linux drops an
 * out-of-order segment it cannot charge (tcp_data_queue_ofo). */
#include "tcp/tcp.h"

#include <stdlib.h>

static struct us_tcp_ofo *ofo_alloc(struct us_stack *s)
{
    if (s->tcp->ofo_nomem) {
        s->tcp->ofo_nomem--;
        return NULL;
    }
    return malloc(sizeof(struct us_tcp_ofo));
}

enum us_tcp_ofo_result us_tcp_ofo_hold(struct us_stack *s, struct us_tcpcb *tp, struct us_pkt *pkt,
                                       uint32_t seq)
{
    struct us_tcp_ofo *ofo = tp->ofo;
    if (!ofo) {
        ofo = ofo_alloc(s);
        if (!ofo) {
            us_pkt_free(pkt);
            return US_TCP_OFO_DROPPED_LIMIT;
        }
        us_tcp_ofo_init(ofo);
    }
    enum us_tcp_ofo_result r = us_tcp_ofo_insert(ofo, pkt, seq, tp->rcv_nxt, (uint32_t)tp->rcvbuf);
    if (us_tcp_ofo_empty(ofo)) { /* nothing was held: a new queue goes again */
        free(ofo);
        ofo = NULL;
    }
    tp->ofo = ofo;
    return r;
}

struct us_pkt *us_tcp_ofo_next(struct us_tcpcb *tp)
{
    if (!tp->ofo)
        return NULL;
    struct us_pkt *p = us_tcp_ofo_pop(tp->ofo, tp->rcv_nxt);
    if (us_tcp_ofo_empty(tp->ofo)) {
        free(tp->ofo);
        tp->ofo = NULL;
    }
    return p;
}

void us_tcp_ofo_drop_all(struct us_tcpcb *tp)
{
    if (!tp->ofo)
        return;
    us_tcp_ofo_purge(tp->ofo);
    free(tp->ofo);
    tp->ofo = NULL;
}
