/*
 * msglog.h - the SQLite store's memory of which logged messages are not in
 * message_index yet (docs/store.md, "Messages"), per conversation, with the
 * open transaction's changes kept apart so that a rollback forgets them.
 * No SQLite here: sqlite.c does the writing and tells this what happened.
 */
#ifndef SB_STORE_MSGLOG_H
#define SB_STORE_MSGLOG_H

#include "switchboard/map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct msglog_entry {
    int64_t id;                 /* messages.id */
    uint64_t seq;
} msglog_entry_t;

typedef struct msglog_conv {
    char id[40];                /* the map's key */
    msglog_entry_t *v;          /* in id order */
    size_t n, cap;
    size_t n_committed;         /* entries before the open transaction */
    size_t file_n;              /* the first file_n are being filed in it */
    bool touched;               /* n changed in the open transaction */
    bool queued;                /* in to_file */
} msglog_conv_t;

typedef struct msglog {
    sb_map_t map;               /* conversation id -> msglog_conv_t */
    msglog_conv_t **touched, **to_file;
    size_t ntouched, touched_cap, nto_file, to_file_cap;
    size_t entries;             /* in every conversation, the open transaction's too */
} msglog_t;

void msglog_init(msglog_t *log);
void msglog_free(msglog_t *log);
/* Forgets everything (all of it was filed). */
void msglog_clear(msglog_t *log);

/* A message written (inside the open transaction). */
msglog_conv_t *msglog_add(msglog_t *log, const char *conv_id, int64_t id, uint64_t seq);
msglog_conv_t *msglog_find(const msglog_t *log, const char *conv_id);
/* To be filed before the open transaction commits. */
void msglog_queue(msglog_t *log, msglog_conv_t *c);
/* Queues every conversation whose oldest entry has an id below `below`. */
void msglog_queue_older(msglog_t *log, int64_t below);
/* The lowest id of an entry that stays after the queued ones are filed, or
 * `none` when no entry stays. */
int64_t msglog_low(const msglog_t *log, int64_t none);

/* Forgets a conversation (retention deleted it); outside a transaction. */
void msglog_drop(msglog_t *log, const char *conv_id);

/* The open transaction committed: filed entries go, the rest stand. */
void msglog_commit(msglog_t *log);
/* It rolled back: its entries and filing plans are forgotten. */
void msglog_rollback(msglog_t *log);

#endif
