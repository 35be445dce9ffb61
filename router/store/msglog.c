/*
 * msglog.c - which logged messages wait to be filed into message_index
 * (see msglog.h).
 */
#include "msglog.h"

#include "switchboard/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void msglog_init(msglog_t *log)
{
    memset(log, 0, sizeof(*log));
    sb_map_init(&log->map);
}

static void conv_free(msglog_conv_t *c)
{
    free(c->v);
    free(c);
}

void msglog_clear(msglog_t *log)
{
    for (size_t i = 0; i < log->map.cap; i++)
        if (log->map.slots[i].key)
            conv_free(log->map.slots[i].value);
    sb_map_free(&log->map);
    sb_map_init(&log->map);
    log->ntouched = log->nto_file = 0;
    log->entries = 0;
}

void msglog_free(msglog_t *log)
{
    msglog_clear(log);
    sb_map_free(&log->map);
    free(log->touched);
    free(log->to_file);
}

static void push(msglog_conv_t ***arr, size_t *n, size_t *cap, msglog_conv_t *c)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *arr = sb_realloc(*arr, *cap * sizeof(**arr));
    }
    (*arr)[(*n)++] = c;
}

msglog_conv_t *msglog_find(const msglog_t *log, const char *conv_id)
{
    return sb_map_get(&log->map, conv_id);
}

msglog_conv_t *msglog_add(msglog_t *log, const char *conv_id, int64_t id, uint64_t seq)
{
    msglog_conv_t *c = sb_map_get(&log->map, conv_id);

    if (!c) {
        c = sb_calloc(1, sizeof(*c));
        snprintf(c->id, sizeof(c->id), "%s", conv_id);
        sb_map_put(&log->map, c->id, c);
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->v = sb_realloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = (msglog_entry_t){ .id = id, .seq = seq };
    log->entries++;
    if (!c->touched) {
        c->touched = true;
        push(&log->touched, &log->ntouched, &log->touched_cap, c);
    }
    return c;
}

void msglog_queue(msglog_t *log, msglog_conv_t *c)
{
    if (c->queued)
        return;
    c->queued = true;
    push(&log->to_file, &log->nto_file, &log->to_file_cap, c);
}

void msglog_queue_older(msglog_t *log, int64_t below)
{
    for (size_t i = 0; i < log->map.cap; i++) {
        msglog_conv_t *c = log->map.slots[i].value;
        if (log->map.slots[i].key && c->n && c->v[0].id < below)
            msglog_queue(log, c);
    }
}

int64_t msglog_low(const msglog_t *log, int64_t none)
{
    int64_t low = none;

    for (size_t i = 0; i < log->map.cap; i++) {
        const msglog_conv_t *c = log->map.slots[i].value;
        if (!log->map.slots[i].key || c->queued || !c->n)
            continue;
        if (c->v[0].id < low)
            low = c->v[0].id;
    }
    return low;
}

void msglog_commit(msglog_t *log)
{
    for (size_t i = 0; i < log->nto_file; i++) {
        msglog_conv_t *c = log->to_file[i];
        c->queued = false;
        if (!c->file_n)
            continue;
        memmove(c->v, c->v + c->file_n, (c->n - c->file_n) * sizeof(*c->v));
        c->n -= c->file_n;
        log->entries -= c->file_n;
        c->file_n = 0;
        if (!c->touched) {      /* touched ones are looked at below */
            c->touched = true;
            push(&log->touched, &log->ntouched, &log->touched_cap, c);
        }
    }
    log->nto_file = 0;
    for (size_t i = 0; i < log->ntouched; i++) {
        msglog_conv_t *c = log->touched[i];
        c->touched = false;
        c->n_committed = c->n;
        if (!c->n) {
            sb_map_del(&log->map, c->id);
            conv_free(c);
        }
    }
    log->ntouched = 0;
}

void msglog_rollback(msglog_t *log)
{
    for (size_t i = 0; i < log->nto_file; i++) {
        log->to_file[i]->queued = false;
        log->to_file[i]->file_n = 0;
    }
    log->nto_file = 0;
    for (size_t i = 0; i < log->ntouched; i++) {
        msglog_conv_t *c = log->touched[i];
        c->touched = false;
        log->entries -= c->n - c->n_committed;
        c->n = c->n_committed;
        if (!c->n) {
            sb_map_del(&log->map, c->id);
            conv_free(c);
        }
    }
    log->ntouched = 0;
}

void msglog_drop(msglog_t *log, const char *conv_id)
{
    msglog_conv_t *c = sb_map_del(&log->map, conv_id);

    if (!c)
        return;
    log->entries -= c->n;
    conv_free(c);
}
