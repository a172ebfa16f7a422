/* The loss-recovery block (struct us_tcp_loss in tcp.h): RACK's, undo's,
 * PRR's and the loss probe's state, which a connection needs only once it
 * has sent something. Allocated by the first send, with the send ring
 * (without memory the send fails with ENOMEM, as when the ring cannot be
 * had), and in any case before the first record enters the retransmission
 * queue (a FIN with no data before it), so every segment in flight has it
 * behind it; a connection that never sent carries a pointer instead.
 * Freed with the tcpcb (tcp_table.c). */
#include "tcp/tcp.h"

#include <errno.h>
#include <stdlib.h>

int us_tcp_loss_reserve(struct us_stack *s, struct us_tcpcb *tp)
{
    if (tp->loss)
        return 0;
    if (s->tcp->loss_nomem) {
        s->tcp->loss_nomem--;
        return -ENOMEM;
    }
    tp->loss = calloc(1, sizeof(*tp->loss));
    return tp->loss ? 0 : -ENOMEM;
}
