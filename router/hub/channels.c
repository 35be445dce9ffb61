/*
 * channels.c - the table of channel adapters (a new channel is a new file in
 * channels/ and one line here), and what the hub does for them: the
 * conversation of each contact, inbound deduplication, the journal of their
 * store writes, and starting and stopping them with the hub.
 */
#include "chan_private.h"

#include <stdio.h>
#include <string.h>

static const sb_channel_methods_t *const channels[] = {
    &sb_channel_webchat,
    &sb_channel_whatsapp,
    &sb_channel_messenger,
    &sb_channel_telegram,
    &sb_channel_voice,
    &sb_channel_connector,
};
#define NCHANNELS (sizeof(channels) / sizeof(channels[0]))

const sb_channel_methods_t *sb_channel_find(const char *name)
{
    if (!name || !*name)
        return NULL;
    for (size_t i = 0; i < NCHANNELS; i++)
        if (channels[i] != &sb_channel_connector && strcmp(channels[i]->name, name) == 0)
            return channels[i];
    return &sb_channel_connector;      /* "line", ...: a connector's channel */
}

const sb_channel_methods_t *sb_channel_for_path(const char *path)
{
    for (size_t i = 0; i < NCHANNELS; i++)
        if (channels[i]->ws_path && strcmp(channels[i]->ws_path, path) == 0)
            return channels[i];
    return NULL;
}

const sb_channel_methods_t *sb_channel_for_http(const char *path)
{
    for (size_t i = 0; i < NCHANNELS; i++)
        if (channels[i]->http_path && strcmp(channels[i]->http_path, path) == 0)
            return channels[i];
    return NULL;
}

/* --- (channel, contact) -> open conversation ---------------------------------- */

/*
 * A hash map from keys (channel '\x1f' contact, and per-conversation flags)
 * to conversation ids. Each conversation's keys are also chained from a
 * node keyed '\x1d' + its id, so forgetting a conversation that closed costs
 * only its own keys.
 */
typedef struct map_node {
    struct map_node *next;          /* in its bucket */
    struct map_node *conv_next;     /* the conversation's keys (from its index node) */
    char conv_id[40];
    char key[];
} map_node_t;

struct hub_conv_map {
    map_node_t **buckets;
    size_t nbuckets, count;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;     /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static char *map_key(const char *channel, const char *contact)
{
    size_t a = strlen(channel), b = strlen(contact);
    char *k = sb_malloc(a + b + 2);

    memcpy(k, channel, a);
    k[a] = '\x1f';
    memcpy(k + a + 1, contact, b + 1);
    return k;
}

static map_node_t **map_slot(hub_conv_map_t *m, const char *key)
{
    map_node_t **pp = &m->buckets[hash_str(key) % m->nbuckets];

    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void map_grow(hub_conv_map_t *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
    map_node_t **b = sb_calloc(n, sizeof(*b));

    for (size_t i = 0; i < m->nbuckets; i++) {
        map_node_t *node = m->buckets[i], *next;
        for (; node; node = next) {
            next = node->next;
            node->next = b[hash_str(node->key) % n];
            b[hash_str(node->key) % n] = node;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

/* The node of key, created (empty conv_id) when absent and create is set. */
static map_node_t *map_node(hub_conv_map_t *m, const char *key, bool create)
{
    map_node_t **pp;
    size_t n;

    if (!m->nbuckets) {
        if (!create)
            return NULL;
        map_grow(m);
    }
    pp = map_slot(m, key);
    if (*pp || !create)
        return *pp;
    if (m->count + 1 > m->nbuckets) {
        map_grow(m);
        pp = map_slot(m, key);
    }
    n = strlen(key) + 1;
    *pp = sb_calloc(1, sizeof(**pp) + n);
    memcpy((*pp)->key, key, n);
    m->count++;
    return *pp;
}

/* Unlinks and frees the node of key (which must exist). */
static void map_remove(hub_conv_map_t *m, const char *key)
{
    map_node_t **pp = map_slot(m, key), *node = *pp;

    *pp = node->next;
    free(node);
    m->count--;
}

static void index_key(char *buf, size_t len, const char *conv_id)
{
    snprintf(buf, len, "\x1d%s", conv_id);
}

/* Takes node off its conversation's chain. */
static void unchain(hub_conv_map_t *m, map_node_t *node)
{
    char ik[48];
    map_node_t *idx, **pp;

    index_key(ik, sizeof(ik), node->conv_id);
    if (!(idx = map_node(m, ik, false)))
        return;
    for (pp = &idx->conv_next; *pp; pp = &(*pp)->conv_next)
        if (*pp == node) {
            *pp = node->conv_next;
            break;
        }
    node->conv_next = NULL;
    if (!idx->conv_next)
        map_remove(m, ik);
}

static void map_put(hub_conv_map_t *m, const char *key, const char *conv_id)
{
    map_node_t *node = map_node(m, key, true), *idx;
    char ik[48];

    if (node->conv_id[0]) {
        if (strcmp(node->conv_id, conv_id) == 0)
            return;
        unchain(m, node);
    }
    snprintf(node->conv_id, sizeof(node->conv_id), "%s", conv_id);
    index_key(ik, sizeof(ik), conv_id);
    idx = map_node(m, ik, true);
    node = map_node(m, key, false);         /* the table may have grown */
    node->conv_next = idx->conv_next;
    idx->conv_next = node;
}

static const char *map_get(hub_conv_map_t *m, const char *key)
{
    map_node_t *node = map_node(m, key, false);

    return node ? node->conv_id : NULL;
}

static void map_del(hub_conv_map_t *m, const char *key)
{
    map_node_t *node = map_node(m, key, false);

    if (!node)
        return;
    unchain(m, node);
    map_remove(m, key);
}

/* Removes every key of conv_id (its contact key, its flags). */
static void map_del_conv(hub_conv_map_t *m, const char *conv_id)
{
    char ik[48];
    map_node_t *idx, *node, *next;

    index_key(ik, sizeof(ik), conv_id);
    if (!(idx = map_node(m, ik, false)))
        return;
    for (node = idx->conv_next; node; node = next) {
        next = node->conv_next;
        map_remove(m, node->key);
    }
    map_remove(m, ik);
}

static void map_free(hub_conv_map_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        map_node_t *node = m->buckets[i], *next;
        for (; node; node = next) {
            next = node->next;
            free(node);
        }
    }
    free(m->buckets);
    free(m);
}

/* --- state ---------------------------------------------------------------------- */

struct hub_chan *hub__chan(sb_hub_t *hub)
{
    if (!hub->chan) {
        hub->chan = sb_calloc(1, sizeof(*hub->chan));
        hub->chan->convs = sb_calloc(1, sizeof(*hub->chan->convs));
    }
    return hub->chan;
}

void hub__channels_start(sb_hub_t *hub)
{
    struct hub_chan *ch = hub__chan(hub);
    int rc;

    if (ch->started)
        return;
    ch->started = true;
    for (size_t i = 0; i < NCHANNELS; i++)
        if (channels[i]->start)
            channels[i]->start(hub);
    rc = hub__outbox_start(hub);
    if (rc < 0)
        sb_error("outbox: cannot read the undelivered messages back: %s (they are sent "
                 "after the next restart)", sb_strerror(rc));
}

void hub__channels_stop(sb_hub_t *hub)
{
    struct hub_chan *ch = hub->chan;

    if (!ch || ch->stopping)
        return;
    ch->stopping = true;
    hub__outbox_stop(hub);
    hub__http_client_stop(hub);
    if (ch->started)
        for (size_t i = 0; i < NCHANNELS; i++)
            if (channels[i]->stop)
                channels[i]->stop(hub);
}

/* --- the journal of the channels' writes ----------------------------------------- */

enum { J_OUTBOX_PUT, J_OUTBOX_UPDATE, J_OUTBOX_MARK, J_INBOUND_PUT };

struct hub_jop {
    int kind;
    bool applied;               /* written into the open transaction */
    sb_outbox_row_t row;        /* PUT, UPDATE: strings owned */
    char *channel, *ref, *contact, *state, *error;  /* MARK, INBOUND_PUT */
    uint64_t seq;
    sb_ms_t t1, t2;
};

static char *dup_or_null(const char *s)
{
    return s ? sb_strdup(s) : NULL;
}

static void row_copy(sb_outbox_row_t *dst, const sb_outbox_row_t *src)
{
    *dst = *src;
    dst->channel = dup_or_null(src->channel);
    dst->conversation_id = dup_or_null(src->conversation_id);
    dst->kind = dup_or_null(src->kind);
    dst->contact_id = dup_or_null(src->contact_id);
    dst->text = dup_or_null(src->text);
    dst->state = dup_or_null(src->state);
    dst->platform_id = dup_or_null(src->platform_id);
    dst->error = dup_or_null(src->error);
}

static void jop_free(hub_jop_t *op)
{
    if (!op)
        return;
    free((char *)op->row.channel);
    free((char *)op->row.conversation_id);
    free((char *)op->row.kind);
    free((char *)op->row.contact_id);
    free((char *)op->row.text);
    free((char *)op->row.state);
    free((char *)op->row.platform_id);
    free((char *)op->row.error);
    free(op->channel);
    free(op->ref);
    free(op->contact);
    free(op->state);
    free(op->error);
    free(op);
}

static int jop_apply(sb_hub_t *hub, hub_jop_t *op, sb_store_outbox_cb cb, void *arg)
{
    int rc = sb_store_begin(hub->store);

    if (rc == 0) {
        switch (op->kind) {
        case J_OUTBOX_PUT:
            rc = sb_store_outbox_put(hub->store, &op->row);
            break;
        case J_OUTBOX_UPDATE:
            rc = sb_store_outbox_update(hub->store, &op->row);
            break;
        case J_OUTBOX_MARK:
            rc = sb_store_outbox_mark(hub->store, op->channel, op->ref, op->contact, op->t1,
                                      op->state, op->error, op->t2, cb, arg);
            break;
        default:
            rc = sb_store_inbound_put(hub->store, op->channel, op->ref, op->contact, op->seq,
                                      op->t1);
            break;
        }
    }
    if (rc < 0)
        hub->turn_failed = true;
    op->applied = true;
    hub__touch(hub);
    return rc;
}

static int journal_write(sb_hub_t *hub, hub_jop_t *op, sb_store_outbox_cb cb, void *arg)
{
    struct hub_chan *ch = hub__chan(hub);

    if (ch->njournal == ch->journal_cap) {
        ch->journal_cap = ch->journal_cap ? ch->journal_cap * 2 : 32;
        ch->journal = sb_realloc(ch->journal, ch->journal_cap * sizeof(*ch->journal));
    }
    ch->journal[ch->njournal++] = op;
    return jop_apply(hub, op, cb, arg);
}

int hub__write_outbox_put(sb_hub_t *hub, const sb_outbox_row_t *row)
{
    hub_jop_t *op = sb_calloc(1, sizeof(*op));

    op->kind = J_OUTBOX_PUT;
    row_copy(&op->row, row);
    return journal_write(hub, op, NULL, NULL);
}

int hub__write_outbox_update(sb_hub_t *hub, const sb_outbox_row_t *row)
{
    hub_jop_t *op = sb_calloc(1, sizeof(*op));

    op->kind = J_OUTBOX_UPDATE;
    row_copy(&op->row, row);
    return journal_write(hub, op, NULL, NULL);
}

int hub__write_outbox_mark(sb_hub_t *hub, const char *channel, const char *platform_id,
                           const char *contact_id, sb_ms_t upto, const char *state,
                           const char *error, sb_ms_t now, sb_store_outbox_cb cb, void *arg)
{
    hub_jop_t *op = sb_calloc(1, sizeof(*op));

    op->kind = J_OUTBOX_MARK;
    op->channel = dup_or_null(channel);
    op->ref = dup_or_null(platform_id);
    op->contact = dup_or_null(contact_id);
    op->state = dup_or_null(state);
    op->error = dup_or_null(error);
    op->t1 = upto;
    op->t2 = now;
    return journal_write(hub, op, cb, arg);
}

int hub__write_inbound_put(sb_hub_t *hub, const char *channel, const char *external_id,
                           const char *conv_id, uint64_t seq, sb_ms_t ts)
{
    hub_jop_t *op = sb_calloc(1, sizeof(*op));

    op->kind = J_INBOUND_PUT;
    op->channel = dup_or_null(channel);
    op->ref = dup_or_null(external_id);
    op->contact = dup_or_null(conv_id);
    op->seq = seq;
    op->t1 = ts;
    return journal_write(hub, op, NULL, NULL);
}

/*
 * After every flush. Success: what was written is durable (the outbox may
 * send what it stored), and what a failed commit lost is written again now,
 * for the next commit. Failure: everything in the journal waits for a
 * commit that works (the hub retries every second while the store is down).
 */
void hub__after_commit(sb_hub_t *hub, bool failed)
{
    struct hub_chan *ch = hub->chan;
    size_t kept = 0;
    bool again = false;

    if (!ch)
        return;
    hub__http_commit_done(hub, failed);
    if (failed) {
        for (size_t i = 0; i < ch->njournal; i++)
            ch->journal[i]->applied = false;
        return;
    }
    for (size_t i = 0; i < ch->njournal; i++) {
        hub_jop_t *op = ch->journal[i];
        if (op->applied) {
            if (op->kind == J_OUTBOX_PUT)
                hub__outbox_committed(hub, op->row.id);
            jop_free(op);
        } else {
            ch->journal[kept++] = op;
            again = true;
        }
    }
    ch->njournal = kept;
    if (again && !ch->stopping) {
        sb_info("channels: writing again %zu changes a failed commit lost", kept);
        for (size_t i = 0; i < ch->njournal; i++)
            jop_apply(hub, ch->journal[i], NULL, NULL);
    }
    hub__outbox_kick(hub);
}

void hub__channels_free(sb_hub_t *hub)
{
    struct hub_chan *ch = hub->chan;

    if (!ch)
        return;
    if (!ch->stopping)
        hub__channels_stop(hub);
    hub__outbox_free(hub);
    hub__http_held_free(hub);
    for (size_t i = 0; i < ch->njournal; i++)
        jop_free(ch->journal[i]);
    free(ch->journal);
    map_free(ch->convs);
    free(ch);
    hub->chan = NULL;
}

/* --- inbound ------------------------------------------------------------------------- */

int sb_channel_seen(sb_hub_t *hub, const char *channel, const char *external_id,
                    char conv_id[40], uint64_t *seq)
{
    return sb_store_inbound_get(hub->store, channel, external_id, conv_id, seq);
}

int sb_channel_record(sb_hub_t *hub, const char *channel, const char *external_id,
                      const char *conv_id, uint64_t seq, sb_ms_t ts)
{
    return hub__write_inbound_put(hub, channel, external_id, conv_id, seq, ts);
}

sb_conv_t *sb_channel_conv_of(sb_hub_t *hub, const char *channel, const char *key)
{
    struct hub_chan *ch = hub__chan(hub);
    char *k = map_key(channel, key);
    const char *id = map_get(ch->convs, k);
    char stored[40];
    sb_conv_t *conv = NULL;

    if (id) {
        conv = sb_core_conv_find(hub->core, id);
        if (!conv || conv->state == SB_CONV_CLOSED) {
            map_del(ch->convs, k);
            conv = NULL;
        }
    }
    /* After a restart the map is empty: the store knows the contacts of the
     * conversations recovery adopted. */
    if (!conv && sb_store_find_open_conv(hub->store, channel, key, stored) == 0) {
        conv = sb_core_conv_find(hub->core, stored);
        if (conv && conv->state != SB_CONV_CLOSED)
            map_put(ch->convs, k, conv->id);
        else
            conv = NULL;
    }
    free(k);
    return conv;
}

sb_conv_t *sb_channel_conv_open(sb_hub_t *hub, const sb_conv_spec_t *spec, const char *key,
                                const char *first_text, int *err)
{
    sb_conv_spec_t s = *spec;
    char id[33];
    sb_conv_t *conv;

    sb_hub_random_hex(id, 16);
    s.id = id;
    /* An undeclared language is the core's to guess (routing.detect_language),
     * from this first text and the next ones while the conversation waits. */
    if (!s.first_text)
        s.first_text = first_text;
    conv = sb_core_conv_open(hub->core, &s, sb_hub_now(), err);
    if (!conv)
        return NULL;
    if (key || s.contact) {
        char *k = map_key(s.channel, key ? key : s.contact);
        map_put(hub__chan(hub)->convs, k, conv->id);
        free(k);
    }
    return conv;
}

void sb_channel_conv_forget(sb_hub_t *hub, const sb_conv_t *conv)
{
    if (hub->chan)
        map_del_conv(hub->chan->convs, conv->id);
}

int sb_channel_inbound(sb_hub_t *hub, const sb_channel_inbound_t *in, sb_channel_result_t *out)
{
    sb_conv_t *conv;
    int rc, err = 0;

    memset(out, 0, sizeof(*out));
    if (!in->channel || !in->contact_id || !in->external_id || !in->text)
        return SB_EINVAL;
    if (!sb_hub_store_ok(hub))
        return SB_EUNAVAIL;
    rc = sb_channel_seen(hub, in->channel, in->external_id, out->conv_id, &out->seq);
    if (rc == 0) {
        out->duplicate = true;
        conv = sb_core_conv_find(hub->core, out->conv_id);
        out->conv = conv && conv->state != SB_CONV_CLOSED ? conv : NULL;
        return 0;
    }
    if (rc != SB_ENOTFOUND)
        return SB_EUNAVAIL;

    conv = sb_channel_conv_of(hub, in->channel, in->contact_id);
    if (!conv) {
        sb_conv_spec_t spec;
        memset(&spec, 0, sizeof(spec));
        spec.channel = in->channel;
        spec.media = SB_MEDIA_CHAT;
        spec.name = in->contact_name;
        spec.contact = in->contact_id;
        spec.language = in->language;
        spec.pool = in->pool;
        spec.attributes = in->attributes;
        conv = sb_channel_conv_open(hub, &spec, NULL, in->text, &err);
        if (!conv)
            return err < 0 ? err : SB_EINVAL;
        out->opened = true;
    }
    rc = sb_core_customer_message(hub->core, conv, in->text, sb_hub_now(), &out->seq);
    if (rc < 0)
        return rc;
    out->conv = conv;
    snprintf(out->conv_id, sizeof(out->conv_id), "%s", conv->id);
    /* A failed write fails the turn's commit; the journal writes it again. */
    sb_channel_record(hub, in->channel, in->external_id, conv->id, out->seq,
                      in->ts ? in->ts : sb_hub_now());
    return 0;
}

bool sb_channel_first(sb_hub_t *hub, const sb_conv_t *conv, const char *what)
{
    hub_conv_map_t *m = hub__chan(hub)->convs;
    char flag[40];
    char *k;
    bool first;

    snprintf(flag, sizeof(flag), "\x1e%s", what);     /* not a channel name */
    k = map_key(flag, conv->id);
    first = map_get(m, k) == NULL;

    if (first)
        map_put(m, k, conv->id);        /* goes with the conversation's keys */
    free(k);
    return first;
}

void **sb_channel_state(sb_hub_t *hub, const sb_channel_methods_t *adapter)
{
    struct hub_chan *ch = hub__chan(hub);

    for (size_t i = 0; i < NCHANNELS; i++)
        if (channels[i] == adapter)
            return &ch->adapter_state[i];
    return &ch->adapter_state[15];
}

void sb_channel_to_agent(sb_conv_t *conv, json_t *obj)
{
    if (conv && conv->agent && conv->agent->user &&
        (conv->state == SB_CONV_ASSIGNED || conv->state == SB_CONV_BOT))
        sb_session_send(conv->agent->user, obj);
    else
        json_decref(obj);
}
