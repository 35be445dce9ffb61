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
 */
#ifndef SWITCHBOARD_STORE_H
#define SWITCHBOARD_STORE_H

#include "switchboard/common.h"
#include "switchboard/config.h"
#include "switchboard/core.h"

typedef struct sb_store sb_store_t;

typedef struct sb_store_methods {
    const char *name;                      /* "sqlite" */
    /* Opens the engine's state for cfg into *impl. 0 or SB_E*. */
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
} sb_store_methods_t;

struct sb_store {
    const sb_store_methods_t *m;
    void *impl;
    bool in_txn;
};

extern const sb_store_methods_t sb_store_sqlite;

/* The engine named by cfg->store_engine, opened. NULL with *err on failure. */
sb_store_t *sb_store_open(const sb_config_t *cfg, int *err);
/* Closes (rolling back an open transaction); accepts NULL. */
void sb_store_close(sb_store_t *st);

/* Thin wrappers over the methods; each returns 0 or SB_E*. */
int sb_store_begin(sb_store_t *st);       /* no-op when already in a transaction */
int sb_store_commit(sb_store_t *st);      /* no-op when not in a transaction */
int sb_store_rollback(sb_store_t *st);
int sb_store_save_conv(sb_store_t *st, const sb_conv_t *conv);
int sb_store_append_message(sb_store_t *st, const sb_conv_t *conv, const sb_message_t *msg);
int sb_store_append_note(sb_store_t *st, const sb_conv_t *conv, const sb_note_t *note);
int sb_store_append_event(sb_store_t *st, const sb_conv_t *conv, const sb_event_t *ev);

#endif
