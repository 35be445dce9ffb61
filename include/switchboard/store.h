/*
 * store.h - the durable journal of conversations, messages, notes and
 * routing events.
 *
 * An engine is a struct of methods (like sqlite3_io_methods): SQLite is the
 * embedded default (router/store/sqlite.c); a second engine (Redis) is a new
 * file that fills the same struct.
 *
 * Writes are grouped: the hub calls begin() once per service-loop turn,
 * appends everything the turn produced, then commit(). Nothing is
 * acknowledged to a client before commit() returns 0.
 *
 * Transactions are all or nothing: once a write inside a transaction has
 * failed, the later writes of that transaction fail with the same error
 * without touching the database, and commit() rolls everything back and
 * returns that error. So commit() returning 0 means every write since
 * begin() is durable (to the level cfg->store_sync promises, docs/store.md).
 * A failed commit() leaves no transaction open.
 *
 * Rows name pools, skills, languages, topics and agents by their
 * configuration ids, never by index, so a changed configuration reads old
 * rows correctly. Appends are idempotent: the same (conversation, seq) for a
 * message, or (conversation, position) for a note or an event, is stored once
 * however often it is appended (clients retry), and the first one wins. A
 * note's or event's position is its index in conv->notes / conv->history
 * plus one when the pointer points into that array (as the hub passes
 * &conv->notes[action->index]), else the array's count: it is taken to be the
 * newest.
 *
 * Errors: a store that cannot write (disk full, read-only file or file
 * system, I/O error, locked by another process) returns SB_EUNAVAIL or
 * SB_EIO, both "unavailable" on the wire; it never aborts, and it recovers by
 * itself once the cause is gone (the SQLite engine reopens its database when
 * it has to).
 */
#ifndef SWITCHBOARD_STORE_H
#define SWITCHBOARD_STORE_H

#include "switchboard/common.h"
#include "switchboard/config.h"
#include "switchboard/core.h"

typedef struct sb_store sb_store_t;

/*
 * Called once per message by load_messages. msg and its strings are the
 * store's, valid only during the call. Return 0 to go on; any other value
 * stops the walk and is what load_messages returns.
 */
typedef int (*sb_store_message_cb)(void *arg, const sb_message_t *msg);

/*
 * Called once per conversation by load_conv and load_open. conv is a scratch
 * struct filled from the store: every field, the whole transcript, notes and
 * history; pool, language, topic and skills resolved to indexes in the
 * configuration the store was opened with; conv->agent, ->user and
 * ->core_private are NULL. agent_id is the id of the agent it is assigned
 * (or offered) to, or NULL; resolving it to an sb_agent_t is the caller's.
 *
 * Ownership: the store frees conv's strings, arrays and attributes after the
 * call. To keep one, take it and set the member to NULL (and its count to
 * 0): e.g. `mine = conv->msgs; conv->msgs = NULL; conv->nmsgs = 0;`. Every
 * pointer is allocated with sb_malloc (free() releases it); attributes is a
 * jansson reference. agent_id is borrowed for the call.
 *
 * Return 0 to go on; any other value stops the walk and is returned.
 */
typedef int (*sb_store_conv_cb)(void *arg, sb_conv_t *conv, const char *agent_id);

/*
 * One message in the durable outbox of the channel adapters: stored before
 * it is sent, then updated as the platform answers and reports delivery.
 * Strings are borrowed (by the store while writing; by the callback while it
 * runs when reading). States, in order: pending, sent, delivered, read;
 * failed and expired end it.
 */
typedef struct sb_outbox_row {
    int64_t id;                 /* > 0, chosen by the caller (never reused) */
    const char *channel;        /* "whatsapp", "telegram", "voice", "line" ... */
    const char *conversation_id;
    uint64_t seq;               /* the transcript seq, 0 for a notice */
    int part;                   /* piece of a message split for the platform's limit */
    const char *kind;           /* "message", or "call" (a voice callback) */
    const char *contact_id;
    const char *text;
    const char *state;
    int attempts;
    sb_ms_t next_attempt_at, created_at, updated_at;
    const char *platform_id;    /* the platform's id of the sent message, or NULL */
    const char *error;          /* the last failure, or NULL */
} sb_outbox_row_t;

/* Called once per row by outbox_load and outbox_mark; 0 to go on. */
typedef int (*sb_store_outbox_cb)(void *arg, const sb_outbox_row_t *row);

typedef struct sb_store_methods {
    const char *name;                      /* "sqlite" */
    /* Opens the engine's state for cfg into *impl. 0 or SB_E*. cfg is
     * borrowed: it must outlive the store, or be replaced by set_config. */
    int  (*open)(const sb_config_t *cfg, void **impl);
    void (*close)(void *impl);
    int  (*begin)(void *impl);
    int  (*commit)(void *impl);
    int  (*rollback)(void *impl);
    /* Inserts or updates the conversation's row (state, pool, agent, ...). */
    int  (*save_conv)(void *impl, const sb_conv_t *conv);
    int  (*append_message)(void *impl, const sb_conv_t *conv, const sb_message_t *msg);
    int  (*append_note)(void *impl, const sb_conv_t *conv, const sb_note_t *note);
    int  (*append_event)(void *impl, const sb_conv_t *conv, const sb_event_t *ev);

    /* --- added with the SQLite engine ------------------------------------ */

    /* Every stored message of conv_id with seq > after_seq, in seq order.
     * 0 (also when there are none) or SB_E*, or the callback's stop value.
     * On an SB_E* failure the callback has not been called. */
    int  (*load_messages)(void *impl, const char *conv_id, uint64_t after_seq,
                          sb_store_message_cb cb, void *arg);
    /* One conversation, whatever its state, fully read back (see
     * sb_store_conv_cb). SB_ENOTFOUND when there is no such row. */
    int  (*load_conv)(void *impl, const char *conv_id, sb_store_conv_cb cb, void *arg);
    /* Crash recovery: every conversation not closed, ordered by priority
     * (highest first), then arrival (earliest first), then id. 0 or SB_E*,
     * or the callback's stop value. A failure part way leaves the
     * conversations already called back called back. */
    int  (*load_open)(void *impl, sb_store_conv_cb cb, void *arg);
    /* After a configuration reload: the new cfg (borrowed) replaces the old
     * one for resolving names. Cannot fail. */
    void (*set_config)(void *impl, const sb_config_t *cfg);
    /* Retention: deletes up to limit closed conversations closed before
     * `before` (ms), with everything of theirs, in a short transaction of
     * its own (never inside begin/commit: SB_ECONFLICT). *deleted gets how
     * many. 0 or SB_E*. */
    int  (*purge_closed)(void *impl, sb_ms_t before, int limit, int *deleted);

    /* --- added with the channel adapters (docs/channels.md) -------------- */

    /* Inserts an outbox row (every field); a row with that id already there
     * is left as it is (the write is idempotent). */
    int  (*outbox_put)(void *impl, const sb_outbox_row_t *row);
    /* Updates row->id's state, attempts, next_attempt_at, updated_at,
     * platform_id and error. 0 also when there is no such row. */
    int  (*outbox_update)(void *impl, const sb_outbox_row_t *row);
    /* Every pending row, in id order. 0 or SB_E*, or the callback's value;
     * on an SB_E* failure the callback has not been called. */
    int  (*outbox_load)(void *impl, sb_store_outbox_cb cb, void *arg);
    /* The largest id ever used (0 for none), into *id. */
    int  (*outbox_max_id)(void *impl, int64_t *id);
    /* A platform's delivery report: the rows of channel whose platform_id is
     * platform_id (or, platform_id NULL, every row already sent to contact_id
     * created at or before upto: Messenger's watermarks) move forward to
     * state ("sent" < "delivered" < "read"; "failed" only from pending or
     * sent), with error when given. cb (may be NULL) gets each row that
     * changed, after the change. 0 or SB_E*, or the callback's value. */
    int  (*outbox_mark)(void *impl, const char *channel, const char *platform_id,
                        const char *contact_id, sb_ms_t upto, const char *state,
                        const char *error, sb_ms_t now, sb_store_outbox_cb cb, void *arg);
    /* Inbound deduplication: what (channel, external_id) became, the first
     * time it came. SB_ENOTFOUND when it never came. conv_id gets < 40 bytes. */
    int  (*inbound_get)(void *impl, const char *channel, const char *external_id,
                        char conv_id[40], uint64_t *seq);
    /* Records it; the first record of a (channel, external_id) wins. */
    int  (*inbound_put)(void *impl, const char *channel, const char *external_id,
                        const char *conv_id, uint64_t seq, sb_ms_t ts);
    /* The newest conversation of channel with customer contact that is not
     * closed, into conv_id; SB_ENOTFOUND when there is none. */
    int  (*find_open_conv)(void *impl, const char *channel, const char *contact,
                           char conv_id[40]);

    /* --- added with the benchmarks (bench/README.md) ---------------------- */

    /* Work that may wait until the turn's frames are out (SQLite: the WAL
     * checkpoint). true when there is some; the hub then calls maintain
     * outside a transaction, after the writes. Either may be NULL. */
    bool (*maintenance_due)(void *impl);
    void (*maintain)(void *impl);
} sb_store_methods_t;

struct sb_store {
    const sb_store_methods_t *m;
    void *impl;
    bool in_txn;
};

extern const sb_store_methods_t sb_store_sqlite;

/* The engine named by cfg->store_engine (NULL: "sqlite"), opened. NULL with
 * *err on failure: SB_EINVAL for an unknown engine, else the engine's error. */
sb_store_t *sb_store_open(const sb_config_t *cfg, int *err);
/* Closes (rolling back an open transaction); accepts NULL. */
void sb_store_close(sb_store_t *st);

/* Thin wrappers over the methods; each returns 0 or SB_E*. */
int sb_store_begin(sb_store_t *st);       /* no-op when already in a transaction */
int sb_store_commit(sb_store_t *st);      /* no-op when not in a transaction */
int sb_store_rollback(sb_store_t *st);    /* no-op when not in a transaction */
int sb_store_save_conv(sb_store_t *st, const sb_conv_t *conv);
int sb_store_append_message(sb_store_t *st, const sb_conv_t *conv, const sb_message_t *msg);
int sb_store_append_note(sb_store_t *st, const sb_conv_t *conv, const sb_note_t *note);
int sb_store_append_event(sb_store_t *st, const sb_conv_t *conv, const sb_event_t *ev);
int sb_store_load_messages(sb_store_t *st, const char *conv_id, uint64_t after_seq,
                           sb_store_message_cb cb, void *arg);
int sb_store_load_conv(sb_store_t *st, const char *conv_id, sb_store_conv_cb cb, void *arg);
int sb_store_load_open(sb_store_t *st, sb_store_conv_cb cb, void *arg);
void sb_store_set_config(sb_store_t *st, const sb_config_t *cfg);
int sb_store_purge_closed(sb_store_t *st, sb_ms_t before, int limit, int *deleted);
bool sb_store_maintenance_due(sb_store_t *st);
void sb_store_maintain(sb_store_t *st);     /* no-op inside a transaction */

/* The channel adapters' outbox and inbound deduplication (methods above). */
int sb_store_outbox_put(sb_store_t *st, const sb_outbox_row_t *row);
int sb_store_outbox_update(sb_store_t *st, const sb_outbox_row_t *row);
int sb_store_outbox_load(sb_store_t *st, sb_store_outbox_cb cb, void *arg);
int sb_store_outbox_max_id(sb_store_t *st, int64_t *id);
int sb_store_outbox_mark(sb_store_t *st, const char *channel, const char *platform_id,
                         const char *contact_id, sb_ms_t upto, const char *state,
                         const char *error, sb_ms_t now, sb_store_outbox_cb cb, void *arg);
int sb_store_inbound_get(sb_store_t *st, const char *channel, const char *external_id,
                         char conv_id[40], uint64_t *seq);
int sb_store_inbound_put(sb_store_t *st, const char *channel, const char *external_id,
                         const char *conv_id, uint64_t seq, sb_ms_t ts);
int sb_store_find_open_conv(sb_store_t *st, const char *channel, const char *contact,
                            char conv_id[40]);

/*
 * The SQLite engine's connection, for diagnostics and tests (PRAGMA queries);
 * NULL when st is not the SQLite engine or has no usable connection.
 * Borrowed, and valid only until the next store call: the engine may reopen
 * its database. Do not write through it.
 */
struct sqlite3;
struct sqlite3 *sb_store_sqlite_db(sb_store_t *st);

#endif
