/*
 * chan_private.h - what the hub's channel files share (channels.c, http.c,
 * outbox.c, http_client.c): the per-hub state behind channel.h.
 */
#ifndef SB_CHAN_PRIVATE_H
#define SB_CHAN_PRIVATE_H

#include "hub_private.h"

/* --- the HTTP client (http_client.c) -------------------------------------- */

typedef struct hub_http_call hub_http_call_t;
typedef struct hub_http_client hub_http_client_t;

/*
 * Called once per call, from the service loop (never from inside
 * hub__http_call): status is the HTTP status, or 0 when there was no answer
 * (connect, TLS, DNS, timeout: err says which); body is what came (NULL when
 * nothing); retry_after_s is the Retry-After header in seconds, or 0.
 */
typedef void (*hub_http_done_fn)(void *arg, int status, const char *body, size_t len,
                                 int retry_after_s, const char *err);

/* Starts req (copied) with a timeout for the whole exchange. Returns the call,
 * or NULL with err when the URL cannot be used (then done is never called). */
hub_http_call_t *hub__http_call(sb_hub_t *hub, const sb_platform_request_t *req,
                                int timeout_s, hub_http_done_fn done, void *arg,
                                char *err, size_t errlen);
/* Abandons a call: done is not called. Accepts NULL. */
void hub__http_call_cancel(hub_http_call_t *call);
/* Abandons every call and stops the resolver thread (before the context goes). */
void hub__http_client_stop(sb_hub_t *hub);

/* --- the outbox (outbox.c) ------------------------------------------------- */

typedef struct hub_outbox hub_outbox_t;

/* Reads the pending rows back and schedules them. 0 or SB_E*. */
int hub__outbox_start(sb_hub_t *hub);
/* Cancels its timer and its calls. */
void hub__outbox_stop(sb_hub_t *hub);
void hub__outbox_free(sb_hub_t *hub);
/* The row of item id was committed (it may be sent now). */
void hub__outbox_committed(sb_hub_t *hub, int64_t id);
/* Runs the sender soon. */
void hub__outbox_kick(sb_hub_t *hub);

/* --- writes of the channels, journaled until committed (channels.c) ------- */

/*
 * The channels' store writes go into the turn's transaction like the core's,
 * and are kept until a commit that holds them succeeds: when a commit fails,
 * they are written again once the store accepts writes (the hub re-writes
 * the conversations a failed turn touched the same way).
 */
int hub__write_outbox_put(sb_hub_t *hub, const sb_outbox_row_t *row);
int hub__write_outbox_update(sb_hub_t *hub, const sb_outbox_row_t *row);
int hub__write_outbox_mark(sb_hub_t *hub, const char *channel, const char *platform_id,
                           const char *contact_id, sb_ms_t upto, const char *state,
                           const char *error, sb_ms_t now, sb_store_outbox_cb cb, void *arg);
int hub__write_inbound_put(sb_hub_t *hub, const char *channel, const char *external_id,
                           const char *conv_id, uint64_t seq, sb_ms_t ts);

/* --- held webhook answers (http.c) ------------------------------------------ */

/* The commit they waited for is done: they may go (as 503 when it failed). */
void hub__http_commit_done(sb_hub_t *hub, bool failed);
void hub__http_held_free(sb_hub_t *hub);

/* --- the state ------------------------------------------------------------ */

typedef struct hub_jop hub_jop_t;
typedef struct hub_held hub_held_t;
typedef struct hub_conv_map hub_conv_map_t;

struct hub_chan {
    bool started, stopping;
    hub_conv_map_t *convs;      /* (channel, contact) -> open conversation id */
    hub_jop_t **journal;        /* channel writes not yet known to be committed */
    size_t njournal, journal_cap;
    hub_held_t *held;           /* webhook answers waiting for the commit */
    size_t nheld, held_cap;
    hub_outbox_t *outbox;
    hub_http_client_t *client;
    void *adapter_state[16];    /* sb_channel_state */
};

/* The hub's channel state, made on first use. Never NULL. */
struct hub_chan *hub__chan(sb_hub_t *hub);

#endif
