/*
 * hub.h - the libwebsockets server: one listener for HTTP and WebSocket,
 * sessions, the group commit, and carrying out the core's actions.
 *
 * One service loop owns every socket and timer. Work of one loop turn is
 * grouped: store writes go into one transaction, and every frame the turn
 * produced (replies, deliveries, notices) waits in the turn's outbox until
 * that transaction commits. So nothing is acknowledged or shown to anyone
 * before it is durable.
 *
 * Channel adapters (channels/) and the hub's own agent endpoint use the
 * session functions below; they never touch lws directly.
 */
#ifndef SWITCHBOARD_HUB_H
#define SWITCHBOARD_HUB_H

#include "switchboard/codec.h"
#include "switchboard/common.h"
#include "switchboard/config.h"
#include "switchboard/core.h"
#include "switchboard/store.h"

#include <jansson.h>

typedef struct sb_hub sb_hub_t;
typedef struct sb_session sb_session_t;

typedef enum {
    SB_SESSION_CUSTOMER, SB_SESSION_AGENT, SB_SESSION_CONNECTOR
} sb_session_kind_t;

/* A hub over cfg, core and store (all borrowed; they outlive the hub).
 * Creates the listener; NULL on failure (logged). */
sb_hub_t *sb_hub_new(const sb_config_t *cfg, sb_core_t *core, sb_store_t *store);
/* Recovery at start: adopts every open conversation the store holds into the
 * core (queues in order, assignments held for their agents' grace period,
 * offers withdrawn). Returns the number adopted, or SB_E* when the store
 * cannot be read. */
int sb_hub_recover(sb_hub_t *hub);
/* The port actually bound (useful with port 0). */
int sb_hub_port(const sb_hub_t *hub);
/* Serves until sb_hub_stop(); then commits, closes every socket with 1001. */
int sb_hub_run(sb_hub_t *hub);
/* Asks the loop to stop; async-signal-safe. */
void sb_hub_stop(sb_hub_t *hub);

/* What SIGHUP does, run on the loop (main.c loads and validates the file and
 * applies it with sb_hub_apply_config). */
typedef void (*sb_hub_reload_fn)(sb_hub_t *hub, void *arg);
void sb_hub_on_reload(sb_hub_t *hub, sb_hub_reload_fn fn, void *arg);
/* Asks the loop to run the reload function; async-signal-safe. */
void sb_hub_request_reload(sb_hub_t *hub);
/* Switches the hub to cfg (borrowed; the core and store must already use it):
 * what sessions keep by index (supervisors' monitored pools) is carried over
 * by id from old. Then carries out the core's actions. */
void sb_hub_apply_config(sb_hub_t *hub, const sb_config_t *cfg, const sb_config_t *old);
void sb_hub_free(sb_hub_t *hub);

/* --- for endpoints and channel adapters -------------------------------- */

const sb_config_t *sb_hub_config(const sb_hub_t *hub);
sb_core_t *sb_hub_core(sb_hub_t *hub);
/* The store, for reads of what is no longer in memory (closed conversations). */
sb_store_t *sb_hub_store(sb_hub_t *hub);
/* Wall-clock now, read once per event by the hub. */
sb_ms_t sb_hub_now(void);

sb_hub_t *sb_session_hub(const sb_session_t *s);
sb_session_kind_t sb_session_kind(const sb_session_t *s);
/* The endpoint's own state for this session (set with sb_session_set_data). */
void *sb_session_data(const sb_session_t *s);
void sb_session_set_data(sb_session_t *s, void *data);

/* Queues obj as a text frame in the turn's outbox (sent after the commit).
 * Takes ownership of obj (a new reference). Never fails; a session whose
 * queue overflows is closed. */
void sb_session_send(sb_session_t *s, json_t *obj);
/* Like sb_session_send, for a frame that depends on no store write (a
 * welcome, typing): it goes out with the turn even while the store is down
 * and the turn's other frames are held. */
void sb_session_send_now(sb_session_t *s, json_t *obj);
/* {"type":"ok","ref":ref, ...fields}; takes ownership of fields (may be NULL).
 * Held with the turn's writes; sb_session_ok_now for a request that wrote nothing. */
void sb_session_ok(sb_session_t *s, const char *ref, json_t *fields);
void sb_session_ok_now(sb_session_t *s, const char *ref, json_t *fields);
/* The hot frames without a jansson tree: sb_session_send_text queues a frame
 * already written as JSON text (held with the turn, as sb_session_send);
 * sb_hub_text hands out the hub's scratch buffer for writing one, emptied.
 * sb_session_ok_seq is sb_session_ok with {"seq":seq,"conversation_id":id}. */
void sb_session_send_text(sb_session_t *s, const char *text, size_t len);
sb_text_t *sb_hub_text(sb_hub_t *hub);
void sb_session_ok_seq(sb_session_t *s, const char *ref, uint64_t seq, const char *conv_id);
/* {"type":"error","ref":ref,"code":code,"message":...}. */
void sb_session_error(sb_session_t *s, const char *ref, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* False while the store cannot write: endpoints refuse requests that need a
 * write with "unavailable" before they change anything. */
bool sb_hub_store_ok(const sb_hub_t *hub);
/* Closes the session with a WebSocket close code after what is queued. */
void sb_session_close(sb_session_t *s, int code, const char *reason);
/* Counts a bad frame; past the configured rate the session is closed (1008). */
void sb_session_bad_frame(sb_session_t *s);

/* Carries out the core's pending actions (persist, deliver, notify) and
 * clears them. Endpoints call it after every core call. */
void sb_hub_drain(sb_hub_t *hub);

/* Fills out with 2*n lowercase hex characters of OpenSSL randomness + NUL. */
void sb_hub_random_hex(char *out, size_t n);

#endif
