/* A host session with one Klipper MCU: sequence sync, acks and naks,
 * retransmission (RTO 25 ms..5 s), at most 12 blocks in flight (and the
 * RECEIVE_WINDOW when declared), identify, and many queries in flight.
 *
 * Callers see typed commands from the dictionary, never ids or bytes.  The
 * session is single-threaded: all I/O happens inside its calls.
 */
#ifndef MF_KLIPPER_SESSION_H
#define MF_KLIPPER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "klipper/dict.h"
#include "klipper/msgformat.h"
#include "link/transport.h"
#include "util/err.h"

struct kl_session;
struct kl_query;

struct kl_stats {
    uint64_t blocks_sent, blocks_received, bytes_sent, bytes_received;
    uint64_t retransmits;   /* blocks sent again (timeout or nak) */
    uint64_t naks;          /* naks received */
    uint64_t bad_blocks;    /* corrupt input blocks dropped */
    uint64_t lost_responses;/* queries whose reply never came (re-queried or reported) */
    uint32_t srtt_us, rto_us;
};

/* Returned by a query without KL_Q_RETRY whose reply was lost. */
#define KL_LOST (-2)

/* Query flags. */
#define KL_Q_RETRY 0x1 /* idempotent: re-send if the reply is lost */

/* Sync with the MCU over t and read its dictionary (identify).  The
 * transport stays owned by the caller; its name names the device in
 * messages. */
int kl_session_open(struct transport *t, struct kl_session **out, struct mf_err *err);
void kl_session_close(struct kl_session *s);

const struct kl_dict *kl_session_dict(const struct kl_session *s);
struct kl_stats kl_session_stats(const struct kl_session *s);

/* Look up a command or response by name, or fail with a message naming it
 * (the firmware lacks that feature). */
const struct kl_msgfmt *kl_session_command(struct kl_session *s, const char *name, struct mf_err *err);
const struct kl_msgfmt *kl_session_response(struct kl_session *s, const char *name, struct mf_err *err);

/* Queue a command (several are packed per block).  Refused if it cannot fit
 * in one block. */
int kl_send(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args,
            struct mf_err *err);
/* Wait until everything queued has been acknowledged. */
int kl_flush(struct kl_session *s, struct mf_err *err);
/* Write out queued commands and return without waiting for acks (for reset). */
int kl_send_now(struct kl_session *s, struct mf_err *err);

/* Write a lone 0x7E (which the MCU drops silently) to make it look at its
 * input again. */
int kl_send_sync(struct kl_session *s, struct mf_err *err);

/* Send cmd and wait for `resp` (matching param "oid" when oid >= 0).
 * reply_data: the most bytes the reply's buffers and strings can hold
 * together (0 for a reply of integers), as the command asked for them: the
 * session keeps no more replies outstanding than the MCU's transmit buffer
 * holds, and learns their size from this alone. */
int kl_query(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args,
             const struct kl_msgfmt *resp, int oid, unsigned flags, size_t reply_data, struct kl_msg *reply,
             struct mf_err *err);

/* How a link takes replies, for a caller that sizes its queries: the
 * largest a reply block to resp with reply_data bytes of data can be; the
 * most the replies to one block may come to together (the MCU answers a
 * block at once, into its transmit buffer: the last of them needs its room
 * on top of the others' sizes); and whether every byte costs link time (a
 * UART) rather than every round trip (USB). */
size_t kl_reply_size(const struct kl_msgfmt *resp, size_t reply_data);
/* The room a reply to resp needs free in the MCU's transmit buffer when it
 * is made, whatever it carries: Klipper builds from before May 2026 drop a
 * reply unless the largest block its format allows would fit (a string or
 * buffer counts 64 bytes), and many boards being updated run one. */
size_t kl_reply_room(const struct kl_msgfmt *resp);
unsigned kl_session_block_replies_max(const struct kl_session *s);
bool kl_session_bytes_cost(const struct kl_session *s);

/* The link as the dictionary showed it: a UART where it names a baud rate;
 * else CAN where the transport said so, else USB (firmware that names no
 * baud rate talks over USB, CAN or, as Klipper's Linux MCU, a pipe, none
 * with a UART's small transmit buffer).  For the next session on the same
 * device, whose transport may not know (a pty). */
enum transport_medium kl_session_medium(const struct kl_session *s);

/* Pipelined form: submit many, then wait for each (in any order).
 * kl_query_wait frees q; kl_query_cancel frees one not waited for. */
struct kl_query *kl_query_submit(struct kl_session *s, const struct kl_msgfmt *cmd,
                                 const struct kl_arg *args, const struct kl_msgfmt *resp, int oid,
                                 unsigned flags, size_t reply_data, struct mf_err *err);
int kl_query_wait(struct kl_session *s, struct kl_query *q, struct kl_msg *reply, struct mf_err *err);
void kl_query_cancel(struct kl_session *s, struct kl_query *q);

/* The least time the MCU spends on cmd: fixed_ns plus per_byte_ns for each
 * byte of its buffer arguments (e.g. the clock of a bus it drives).  The
 * session lets replies pile up in the MCU's transmit buffer only as far as
 * the link drains it meanwhile; a command it knows no time for counts as
 * taking none.  Up to 8 commands. */
void kl_session_command_time(struct kl_session *s, const struct kl_msgfmt *cmd, uint32_t fixed_ns,
                             uint32_t per_byte_ns);

/* Shutdown state seen on this session (from `shutdown`/`is_shutdown`). */
bool kl_session_shutdown(const struct kl_session *s, const char **reason);

#endif
