/*
 * store.c - engine selection and the sb_store_* wrappers.
 *
 * The wrappers keep the transaction flag (begin and commit are no-ops when
 * there is nothing to do) and forward everything else to the engine.
 */
#include "switchboard/store.h"

#include <string.h>
#include <stdlib.h>

/* Every engine this build knows; a new engine is a new file and a line here. */
static const sb_store_methods_t *const engines[] = {
    &sb_store_sqlite,
};

sb_store_t *sb_store_open(const sb_config_t *cfg, int *err)
{
    const char *name = cfg->store_engine ? cfg->store_engine : "sqlite";
    const sb_store_methods_t *m = NULL;
    sb_store_t *st;
    int rc;

    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
        if (strcmp(engines[i]->name, name) == 0)
            m = engines[i];
    if (!m) {
        sb_error("store: unknown engine \"%s\"", name);
        if (err)
            *err = SB_EINVAL;
        return NULL;
    }
    st = sb_calloc(1, sizeof(*st));
    st->m = m;
    rc = m->open(cfg, &st->impl);
    if (rc != 0) {
        free(st);
        if (err)
            *err = rc;
        return NULL;
    }
    return st;
}

void sb_store_close(sb_store_t *st)
{
    if (!st)
        return;
    st->m->close(st->impl);   /* the engine rolls back an open transaction */
    free(st);
}

int sb_store_begin(sb_store_t *st)
{
    int rc;

    if (!st)
        return SB_EINVAL;
    if (st->in_txn)
        return 0;
    rc = st->m->begin(st->impl);
    if (rc == 0)
        st->in_txn = true;
    return rc;
}

int sb_store_commit(sb_store_t *st)
{
    if (!st)
        return SB_EINVAL;
    if (!st->in_txn)
        return 0;
    st->in_txn = false;   /* a failed commit rolls back: no transaction either way */
    return st->m->commit(st->impl);
}

int sb_store_rollback(sb_store_t *st)
{
    if (!st)
        return SB_EINVAL;
    if (!st->in_txn)
        return 0;
    st->in_txn = false;
    return st->m->rollback(st->impl);
}

int sb_store_save_conv(sb_store_t *st, const sb_conv_t *conv)
{
    if (!st || !conv)
        return SB_EINVAL;
    return st->m->save_conv(st->impl, conv);
}

int sb_store_append_message(sb_store_t *st, const sb_conv_t *conv, const sb_message_t *msg)
{
    if (!st || !conv || !msg)
        return SB_EINVAL;
    return st->m->append_message(st->impl, conv, msg);
}

int sb_store_append_note(sb_store_t *st, const sb_conv_t *conv, const sb_note_t *note)
{
    if (!st || !conv || !note)
        return SB_EINVAL;
    return st->m->append_note(st->impl, conv, note);
}

int sb_store_append_event(sb_store_t *st, const sb_conv_t *conv, const sb_event_t *ev)
{
    if (!st || !conv || !ev)
        return SB_EINVAL;
    return st->m->append_event(st->impl, conv, ev);
}

int sb_store_load_messages(sb_store_t *st, const char *conv_id, uint64_t after_seq,
                           sb_store_message_cb cb, void *arg)
{
    if (!st || !conv_id || !cb)
        return SB_EINVAL;
    return st->m->load_messages(st->impl, conv_id, after_seq, cb, arg);
}

int sb_store_load_conv(sb_store_t *st, const char *conv_id, sb_store_conv_cb cb, void *arg)
{
    if (!st || !conv_id || !cb)
        return SB_EINVAL;
    return st->m->load_conv(st->impl, conv_id, cb, arg);
}

int sb_store_load_open(sb_store_t *st, sb_store_conv_cb cb, void *arg)
{
    if (!st || !cb)
        return SB_EINVAL;
    return st->m->load_open(st->impl, cb, arg);
}

void sb_store_set_config(sb_store_t *st, const sb_config_t *cfg)
{
    if (st && cfg)
        st->m->set_config(st->impl, cfg);
}

bool sb_store_maintenance_due(sb_store_t *st)
{
    return st && st->m->maintenance_due && st->m->maintenance_due(st->impl);
}

void sb_store_maintain(sb_store_t *st)
{
    if (st && !st->in_txn && st->m->maintain)
        st->m->maintain(st->impl);
}

int sb_store_purge_closed(sb_store_t *st, sb_ms_t before, int limit, int *deleted)
{
    *deleted = 0;
    if (st->in_txn)
        return SB_ECONFLICT;
    return st->m->purge_closed ? st->m->purge_closed(st->impl, before, limit, deleted) : 0;
}

int sb_store_outbox_put(sb_store_t *st, const sb_outbox_row_t *row)
{
    if (!st || !row || row->id <= 0 || !row->channel || !row->conversation_id ||
        !row->contact_id || !row->text || !row->state)
        return SB_EINVAL;
    return st->m->outbox_put ? st->m->outbox_put(st->impl, row) : SB_EUNAVAIL;
}

int sb_store_outbox_update(sb_store_t *st, const sb_outbox_row_t *row)
{
    if (!st || !row || row->id <= 0 || !row->state)
        return SB_EINVAL;
    return st->m->outbox_update ? st->m->outbox_update(st->impl, row) : SB_EUNAVAIL;
}

int sb_store_outbox_load(sb_store_t *st, sb_store_outbox_cb cb, void *arg)
{
    if (!st || !cb)
        return SB_EINVAL;
    return st->m->outbox_load ? st->m->outbox_load(st->impl, cb, arg) : SB_EUNAVAIL;
}

int sb_store_outbox_max_id(sb_store_t *st, int64_t *id)
{
    if (!st || !id)
        return SB_EINVAL;
    return st->m->outbox_max_id ? st->m->outbox_max_id(st->impl, id) : SB_EUNAVAIL;
}

int sb_store_outbox_mark(sb_store_t *st, const char *channel, const char *platform_id,
                         const char *contact_id, sb_ms_t upto, const char *state,
                         const char *error, sb_ms_t now, sb_store_outbox_cb cb, void *arg)
{
    if (!st || !channel || !state || (!platform_id && !contact_id))
        return SB_EINVAL;
    if (!st->m->outbox_mark)
        return SB_EUNAVAIL;
    return st->m->outbox_mark(st->impl, channel, platform_id, contact_id, upto, state, error,
                              now, cb, arg);
}

int sb_store_inbound_get(sb_store_t *st, const char *channel, const char *external_id,
                         char conv_id[40], uint64_t *seq)
{
    if (!st || !channel || !external_id || !conv_id || !seq)
        return SB_EINVAL;
    return st->m->inbound_get ? st->m->inbound_get(st->impl, channel, external_id, conv_id, seq)
                              : SB_EUNAVAIL;
}

int sb_store_inbound_put(sb_store_t *st, const char *channel, const char *external_id,
                         const char *conv_id, uint64_t seq, sb_ms_t ts)
{
    if (!st || !channel || !external_id || !conv_id)
        return SB_EINVAL;
    return st->m->inbound_put ? st->m->inbound_put(st->impl, channel, external_id, conv_id,
                                                   seq, ts)
                              : SB_EUNAVAIL;
}

int sb_store_find_open_conv(sb_store_t *st, const char *channel, const char *contact,
                            char conv_id[40])
{
    if (!st || !channel || !contact || !conv_id)
        return SB_EINVAL;
    return st->m->find_open_conv ? st->m->find_open_conv(st->impl, channel, contact, conv_id)
                                 : SB_EUNAVAIL;
}
