/*
 * outbox.c - the durable outbox of the channel adapters.
 *
 * Every outgoing platform or connector message is a row in the store before
 * anything is sent: sb_outbox_add writes it into the turn's transaction and
 * the item may go only once that commit succeeded (hub__outbox_committed).
 * Items of channels with build_request go out over the HTTP client; the
 * others (connectors) wait in memory until the adapter reports them
 * delivered. The pending rows are read back at start, so a restart resends
 * what was not confirmed (at least once).
 *
 * The sender is one lws timer. Each run walks the items in id order and
 * starts what is due, keeping per conversation one request in flight and
 * the order of messages, and per channel at most channels.outbox_concurrency
 * requests. An answer is read by the adapter (sb_platform_read_response):
 * sent (the platform's id is kept for its delivery reports), retry (again
 * after base * 2^(attempts-1), capped, with jitter, or the platform's hint if
 * longer), or failed. An item older than channels.outbox_max_age_s is given
 * up ("expired"). Agents get {"type":"delivery","conversation_id","seq",
 * "state"} for each change of a message with a seq.
 */
#include "chan_private.h"

#include <stdio.h>
#include <string.h>

typedef struct ob_item {
    sb_outbox_item_t pub;
    sb_hub_t *hub;
    bool durable;               /* its row is committed */
    bool inflight;
    bool done;                  /* removed at the next compaction */
    hub_http_call_t *call;
    char last_error[200];
} ob_item_t;

typedef struct ob_chan_count {
    char name[24];
    int inflight;
} ob_chan_count_t;

struct hub_outbox {
    ob_item_t **items;          /* id order */
    size_t n, cap;
    int64_t last_id;
    bool started;
    lws_sorted_usec_list_t sul;
    bool scheduled;
    sb_ms_t wake_at;
    ob_chan_count_t *chans;
    size_t nchans;
    uint64_t rng;
    bool fresh;                 /* items became sendable since the last run */
};

static void ob_run(lws_sorted_usec_list_t *sul);

static hub_outbox_t *ob_get(sb_hub_t *hub)
{
    struct hub_chan *ch = hub__chan(hub);

    if (!ch->outbox) {
        hub_outbox_t *ob = sb_calloc(1, sizeof(*ob));
        /* Ids only grow, also over rows a failed commit lost (the journal
         * writes those again with the same ids). */
        if (sb_store_outbox_max_id(hub->store, &ob->last_id) < 0)
            ob->last_id = sb_hub_now() * 1000;   /* above any id a clock gave before */
        ob->rng = (uint64_t)sb_hub_now() * 2654435761u + 1;
        ob->wake_at = SB_NEVER;
        ch->outbox = ob;
    }
    return ch->outbox;
}

static uint64_t ob_random(hub_outbox_t *ob)
{
    uint64_t x = ob->rng;       /* xorshift64: jitter, not secrets */

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ob->rng = x;
    return x;
}

static ob_chan_count_t *chan_count(hub_outbox_t *ob, const char *name)
{
    for (size_t i = 0; i < ob->nchans; i++)
        if (strcmp(ob->chans[i].name, name) == 0)
            return &ob->chans[i];
    ob->chans = sb_realloc(ob->chans, (ob->nchans + 1) * sizeof(*ob->chans));
    memset(&ob->chans[ob->nchans], 0, sizeof(ob->chans[0]));
    snprintf(ob->chans[ob->nchans].name, sizeof(ob->chans[0].name), "%s", name);
    return &ob->chans[ob->nchans++];
}

static ob_item_t *find_item(hub_outbox_t *ob, int64_t id)
{
    size_t lo = 0, hi = ob->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ob->items[mid]->pub.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ob->n && ob->items[lo]->pub.id == id && !ob->items[lo]->done)
        return ob->items[lo];
    return NULL;
}

static void item_free(ob_item_t *it)
{
    if (!it)
        return;
    hub__http_call_cancel(it->call);
    free(it->pub.contact_id);
    free(it->pub.text);
    free(it);
}

static void compact(hub_outbox_t *ob)
{
    size_t kept = 0;

    for (size_t i = 0; i < ob->n; i++) {
        if (ob->items[i]->done)
            item_free(ob->items[i]);
        else
            ob->items[kept++] = ob->items[i];
    }
    ob->n = kept;
}

static void schedule(sb_hub_t *hub, hub_outbox_t *ob, sb_ms_t at)
{
    sb_ms_t now = sb_hub_now();

    if (!hub->ctx || hub__chan(hub)->stopping || at == SB_NEVER)
        return;
    if (ob->scheduled && ob->wake_at <= at)
        return;
    ob->scheduled = true;
    ob->wake_at = at;
    lws_sul_schedule(hub->ctx, 0, &ob->sul, ob_run,
                     at > now ? (lws_usec_t)(at - now) * 1000 : 1);
}

/* After a commit: a run only when it made items sendable (a run walks every
 * pending item; turns that committed nothing of the outbox's cost nothing). */
void hub__outbox_kick(sb_hub_t *hub)
{
    hub_outbox_t *ob = hub->chan ? hub->chan->outbox : NULL;

    if (ob && ob->fresh) {
        ob->fresh = false;
        schedule(hub, ob, sb_hub_now());
    }
}

/* --- rows and agents ------------------------------------------------------------ */

static void write_state(sb_hub_t *hub, ob_item_t *it, const char *state, const char *platform_id,
                        const char *error)
{
    sb_outbox_row_t r;

    memset(&r, 0, sizeof(r));
    r.id = it->pub.id;
    r.state = state;
    r.attempts = it->pub.attempts;
    r.next_attempt_at = it->pub.next_attempt_at;
    r.updated_at = sb_hub_now();
    r.platform_id = platform_id;
    r.error = error;
    hub__write_outbox_update(hub, &r);
}

/* {"type":"delivery"} to the agent holding the conversation. */
static void notify(sb_hub_t *hub, const char *channel, const char *conv_id, uint64_t seq,
                   int part, const char *state, const char *reason)
{
    sb_conv_t *conv;
    json_t *o;

    if (!seq || !(conv = sb_core_conv_find(hub->core, conv_id)))
        return;
    o = json_pack("{s:s,s:s,s:I,s:s,s:s}", "type", "delivery", "conversation_id", conv_id,
                  "seq", (json_int_t)seq, "state", state, "channel", channel);
    if (part)
        json_object_set_new(o, "part", json_integer(part));
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    sb_channel_to_agent(conv, o);
}

static void item_end(sb_hub_t *hub, ob_item_t *it, const char *state, const char *platform_id,
                     const char *error)
{
    write_state(hub, it, state, platform_id, error);
    notify(hub, it->pub.channel, it->pub.conversation_id, it->pub.seq, it->pub.part,
           strcmp(state, "expired") == 0 ? "failed" : state, error);
    it->done = true;
}

/* Given up: the agent hears it (delivery "failed") and the conversation's
 * history keeps it (delivery_failed, with the reason). */
static void expire(sb_hub_t *hub, ob_item_t *it)
{
    char why[300];
    sb_conv_t *conv;

    snprintf(why, sizeof(why), "expired: not delivered within %d s%s%s",
             hub->cfg->channels.outbox_max_age_s, it->last_error[0] ? "; last error: " : "",
             it->last_error);
    sb_warn("outbox: gave up on message %lld (%s, conversation %s, seq %llu) after %d "
            "attempts: %s", (long long)it->pub.id, it->pub.channel, it->pub.conversation_id,
            (unsigned long long)it->pub.seq, it->pub.attempts, why);
    item_end(hub, it, "expired", NULL, why);
    conv = sb_core_conv_find(hub->core, it->pub.conversation_id);
    if (conv && sb_core_conv_record(hub->core, conv, SB_EV_DELIVERY_FAILED, why,
                                    sb_hub_now()) == 0)
        sb_hub_drain(hub);
}

/* --- sending --------------------------------------------------------------------- */

static sb_ms_t backoff_ms(sb_hub_t *hub, hub_outbox_t *ob, int attempts)
{
    const sb_cfg_channels_t *c = &hub->cfg->channels;
    double d = (double)c->outbox_retry_base_ms;
    double cap = (double)c->outbox_retry_max_s * 1000.0;

    for (int i = 1; i < attempts && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    /* Equal jitter: half fixed, half random, so retries of many items spread. */
    return (sb_ms_t)(d / 2 + (double)(ob_random(ob) % 1000001) / 1000000.0 * d / 2);
}

static void http_done(void *arg, int status, const char *body, size_t len, int retry_after_s,
                      const char *cerr)
{
    ob_item_t *it = arg;
    sb_hub_t *hub = it->hub;
    hub_outbox_t *ob = ob_get(hub);
    const sb_channel_methods_t *ad = sb_channel_find(it->pub.channel);
    char err[200] = "", *platform_id = NULL;
    int hint = 0;
    sb_platform_outcome_t outcome;
    sb_ms_t now = sb_hub_now();

    it->call = NULL;
    it->inflight = false;
    chan_count(ob, it->pub.channel)->inflight--;
    if (!ad || !ad->read_response)
        outcome = sb_platform_classify_status(status);
    else
        outcome = ad->read_response(hub, &it->pub, status, body, len, &platform_id, &hint,
                                    err, sizeof(err));
    if (status <= 0 && cerr)
        snprintf(err, sizeof(err), "%s", cerr);
    else if (status > 0 && outcome != SB_PLATFORM_SENT && !err[0])
        snprintf(err, sizeof(err), "HTTP %d", status);

    switch (outcome) {
    case SB_PLATFORM_SENT:
        sb_info("outbox: message %lld (%s, conversation %s, seq %llu) sent%s%s",
                (long long)it->pub.id, it->pub.channel, it->pub.conversation_id,
                (unsigned long long)it->pub.seq, platform_id ? " as " : "",
                platform_id ? platform_id : "");
        if (ad && ad->sent)
            ad->sent(hub, &it->pub, platform_id);
        item_end(hub, it, "sent", platform_id, NULL);
        break;
    case SB_PLATFORM_RETRY: {
        sb_ms_t delay = backoff_ms(hub, ob, it->pub.attempts);
        if (retry_after_s > hint)
            hint = retry_after_s;
        if ((sb_ms_t)hint * 1000 > delay)
            delay = (sb_ms_t)hint * 1000;
        snprintf(it->last_error, sizeof(it->last_error), "%s", err);
        if (now - it->pub.created_at >= (sb_ms_t)hub->cfg->channels.outbox_max_age_s * 1000) {
            expire(hub, it);
            break;
        }
        it->pub.next_attempt_at = now + delay;
        sb_warn("outbox: message %lld (%s, conversation %s) not sent (%s); attempt %d, "
                "again in %lld ms", (long long)it->pub.id, it->pub.channel,
                it->pub.conversation_id, err, it->pub.attempts, (long long)delay);
        write_state(hub, it, "pending", NULL, err);
        break;
    }
    default:
        sb_warn("outbox: message %lld (%s, conversation %s, seq %llu) failed: %s",
                (long long)it->pub.id, it->pub.channel, it->pub.conversation_id,
                (unsigned long long)it->pub.seq, err);
        item_end(hub, it, "failed", NULL, err);
        break;
    }
    free(platform_id);
    schedule(hub, ob, now);
}

static void start(sb_hub_t *hub, hub_outbox_t *ob, ob_item_t *it,
                  const sb_channel_methods_t *ad)
{
    sb_platform_request_t *req = NULL;
    char err[200];
    int rc;

    err[0] = '\0';
    rc = ad->build_request(hub, &it->pub, &req, err, sizeof(err));
    if (rc < 0 || !req) {
        sb_warn("outbox: message %lld (%s, conversation %s) cannot be sent: %s",
                (long long)it->pub.id, it->pub.channel, it->pub.conversation_id,
                err[0] ? err : sb_strerror(rc));
        sb_platform_request_free(req);
        item_end(hub, it, "failed", NULL, err[0] ? err : sb_strerror(rc));
        return;
    }
    it->call = hub__http_call(hub, req, hub->cfg->channels.outbox_timeout_s, http_done, it,
                              err, sizeof(err));
    sb_platform_request_free(req);
    if (!it->call) {
        sb_warn("outbox: message %lld (%s): %s", (long long)it->pub.id, it->pub.channel, err);
        item_end(hub, it, "failed", NULL, err);
        return;
    }
    it->inflight = true;
    it->pub.attempts++;
    chan_count(ob, it->pub.channel)->inflight++;
}

/* A set of conversation ids for one run: which conversations must wait. */
typedef struct conv_set {
    const char **ids;
    size_t cap;
} conv_set_t;

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Adds id; true when it was there already. */
static bool conv_set_add(conv_set_t *set, const char *id)
{
    size_t i = hash_id(id) & (set->cap - 1);

    while (set->ids[i]) {
        if (strcmp(set->ids[i], id) == 0)
            return true;
        i = (i + 1) & (set->cap - 1);
    }
    set->ids[i] = id;
    return false;
}

static void ob_run(lws_sorted_usec_list_t *sul)
{
    hub_outbox_t *ob = lws_container_of(sul, hub_outbox_t, sul);
    sb_hub_t *hub = NULL;
    const sb_cfg_channels_t *cc;
    conv_set_t waiting;
    sb_ms_t now = sb_hub_now(), next = SB_NEVER, max_age;

    ob->scheduled = false;
    ob->wake_at = SB_NEVER;
    compact(ob);
    if (!ob->n)
        return;
    hub = ob->items[0]->hub;
    if (!hub->ctx || hub__chan(hub)->stopping)
        return;
    cc = &hub->cfg->channels;
    max_age = (sb_ms_t)cc->outbox_max_age_s * 1000;
    waiting.cap = 16;
    while (waiting.cap < ob->n * 2)
        waiting.cap *= 2;
    waiting.ids = sb_calloc(waiting.cap, sizeof(*waiting.ids));

    for (size_t i = 0; i < ob->n; i++) {
        ob_item_t *it = ob->items[i];
        const sb_channel_methods_t *ad = sb_channel_find(it->pub.channel);
        bool behind;

        if (it->done)
            continue;
        if (!ad || !ad->build_request) {       /* waits for its connector */
            if (it->durable && now - it->pub.created_at >= max_age) {
                expire(hub, it);
                continue;
            }
            if (it->durable && it->pub.created_at + max_age < next)
                next = it->pub.created_at + max_age;
            continue;
        }
        /* One request at a time per conversation, in order. */
        behind = conv_set_add(&waiting, it->pub.conversation_id);
        if (!it->durable || it->inflight)
            continue;
        if (now - it->pub.created_at >= max_age) {
            expire(hub, it);        /* also one waiting behind an earlier message */
            next = now;             /* what waited behind it may go */
            continue;
        }
        if (it->pub.created_at + max_age < next)
            next = it->pub.created_at + max_age;
        if (behind)
            continue;
        if (it->pub.next_attempt_at > now) {
            if (it->pub.next_attempt_at < next)
                next = it->pub.next_attempt_at;
            continue;
        }
        if (chan_count(ob, it->pub.channel)->inflight >= cc->outbox_concurrency)
            continue;           /* an answer kicks the next run */
        start(hub, ob, it, ad);
    }
    free(waiting.ids);
    schedule(hub, ob, next);
}

/* --- the API --------------------------------------------------------------------- */

/*
 * Where to split text for a platform that takes max_chars code points: the
 * byte length of the part (all of text when it fits), moved back to a space
 * or line break in the last fifth when there is one; *skip is 1 when the
 * part ends there (that space is not sent), else 0.
 */
static size_t cut_at(const char *text, size_t max_chars, size_t *skip)
{
    size_t i = 0, chars = 0, last_space = 0, space_chars = 0;

    *skip = 0;
    while (text[i] && chars < max_chars) {
        unsigned char c = (unsigned char)text[i];
        size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (c == ' ' || c == '\n') {
            last_space = i;
            space_chars = chars;
        }
        for (size_t k = 0; k < n && text[i]; k++)
            i++;
        chars++;
    }
    if (text[i] == ' ' || text[i] == '\n') {
        *skip = 1;                 /* it ends right before a space */
        return i;
    }
    if (text[i] && last_space && space_chars * 5 >= max_chars * 4) {
        *skip = 1;
        return last_space;
    }
    return i;
}

int sb_outbox_add(sb_hub_t *hub, const char *channel, const char *conv_id, uint64_t seq,
                  const char *contact_id, const char *kind, const char *text,
                  size_t max_chars, int64_t *first_id)
{
    hub_outbox_t *ob;
    sb_ms_t now = sb_hub_now();
    const char *p = text;
    int part = 0, rc = 0;

    if (!channel || !conv_id || !contact_id || !text || !*text || strlen(channel) >= 24 ||
        strlen(conv_id) >= 40)
        return SB_EINVAL;
    ob = ob_get(hub);
    while (*p) {
        size_t skip = 0, n = max_chars ? cut_at(p, max_chars, &skip) : strlen(p);
        ob_item_t *it = sb_calloc(1, sizeof(*it));
        sb_outbox_row_t r;
        int w;

        it->hub = hub;
        it->pub.id = ++ob->last_id;
        snprintf(it->pub.channel, sizeof(it->pub.channel), "%s", channel);
        snprintf(it->pub.conversation_id, sizeof(it->pub.conversation_id), "%s", conv_id);
        it->pub.seq = seq;
        it->pub.part = part++;
        snprintf(it->pub.kind, sizeof(it->pub.kind), "%s", kind ? kind : "message");
        it->pub.contact_id = sb_strdup(contact_id);
        it->pub.text = sb_strndup(p, n);
        it->pub.created_at = it->pub.next_attempt_at = now;
        if (first_id && it->pub.part == 0)
            *first_id = it->pub.id;
        p += n + skip;

        memset(&r, 0, sizeof(r));
        r.id = it->pub.id;
        r.channel = it->pub.channel;
        r.conversation_id = it->pub.conversation_id;
        r.seq = seq;
        r.part = it->pub.part;
        r.kind = it->pub.kind;
        r.contact_id = it->pub.contact_id;
        r.text = it->pub.text;
        r.state = "pending";
        r.next_attempt_at = r.created_at = r.updated_at = now;
        w = hub__write_outbox_put(hub, &r);
        if (w < 0 && !rc)
            rc = w;             /* kept: the journal writes it again */
        if (ob->n == ob->cap) {
            ob->cap = ob->cap ? ob->cap * 2 : 32;
            ob->items = sb_realloc(ob->items, ob->cap * sizeof(*ob->items));
        }
        ob->items[ob->n++] = it;
    }
    return rc;
}

void hub__outbox_committed(sb_hub_t *hub, int64_t id)
{
    hub_outbox_t *ob = hub->chan ? hub->chan->outbox : NULL;
    ob_item_t *it = ob ? find_item(ob, id) : NULL;

    if (it) {
        it->durable = true;
        ob->fresh = true;
    }
}

static int report_row(void *arg, const sb_outbox_row_t *row)
{
    notify(arg, row->channel, row->conversation_id, row->seq, row->part, row->state,
           row->error);
    return 0;
}

int sb_outbox_report(sb_hub_t *hub, const char *channel, const char *platform_id,
                     const char *contact_id, sb_ms_t upto, const char *state,
                     const char *reason)
{
    return hub__write_outbox_mark(hub, channel, platform_id, contact_id, upto, state, reason,
                                  sb_hub_now(), report_row, hub);
}

int sb_outbox_delivered(sb_hub_t *hub, int64_t id, const char *const *channels)
{
    hub_outbox_t *ob = ob_get(hub);
    ob_item_t *it = find_item(ob, id);
    bool mine = false;

    if (!it)
        return id > 0 && id <= ob->last_id ? 0 : SB_ENOTFOUND;
    for (size_t i = 0; channels && channels[i]; i++)
        if (strcmp(channels[i], it->pub.channel) == 0)
            mine = true;
    if (!mine)
        return SB_ENOTFOUND;
    item_end(hub, it, "delivered", NULL, NULL);
    return 0;
}

void sb_outbox_each(sb_hub_t *hub, const char *channel,
                    void (*fn)(const sb_outbox_item_t *item, void *arg), void *arg)
{
    hub_outbox_t *ob = hub->chan ? hub->chan->outbox : NULL;

    for (size_t i = 0; ob && i < ob->n; i++) {
        ob_item_t *it = ob->items[i];
        if (!it->done && it->durable && strcmp(it->pub.channel, channel) == 0)
            fn(&it->pub, arg);
    }
}

/* --- start and stop ----------------------------------------------------------------- */

static int load_row(void *arg, const sb_outbox_row_t *r)
{
    sb_hub_t *hub = arg;
    hub_outbox_t *ob = hub->chan->outbox;
    ob_item_t *it;

    if (strlen(r->channel) >= sizeof(it->pub.channel) ||
        strlen(r->conversation_id) >= sizeof(it->pub.conversation_id))
        return 0;
    it = sb_calloc(1, sizeof(*it));
    it->hub = hub;
    it->durable = true;
    it->pub.id = r->id;
    snprintf(it->pub.channel, sizeof(it->pub.channel), "%s", r->channel);
    snprintf(it->pub.conversation_id, sizeof(it->pub.conversation_id), "%s",
             r->conversation_id);
    it->pub.seq = r->seq;
    it->pub.part = r->part;
    snprintf(it->pub.kind, sizeof(it->pub.kind), "%s", r->kind ? r->kind : "message");
    it->pub.contact_id = sb_strdup(r->contact_id ? r->contact_id : "");
    it->pub.text = sb_strdup(r->text ? r->text : "");
    it->pub.attempts = r->attempts;
    it->pub.created_at = r->created_at;
    it->pub.next_attempt_at = r->next_attempt_at;
    if (r->error)
        snprintf(it->last_error, sizeof(it->last_error), "%s", r->error);
    if (ob->n == ob->cap) {
        ob->cap = ob->cap ? ob->cap * 2 : 32;
        ob->items = sb_realloc(ob->items, ob->cap * sizeof(*ob->items));
    }
    /* Rows come in id order; items added before start (recovery) are newer. */
    ob->items[ob->n++] = it;
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    const ob_item_t *x = *(const ob_item_t *const *)a, *y = *(const ob_item_t *const *)b;

    return x->pub.id < y->pub.id ? -1 : x->pub.id > y->pub.id;
}

int hub__outbox_start(sb_hub_t *hub)
{
    hub_outbox_t *ob = ob_get(hub);
    size_t before = ob->n;
    int rc;

    if (ob->started)
        return 0;
    ob->started = true;
    rc = sb_store_outbox_load(hub->store, load_row, hub);
    if (rc < 0)
        return rc;
    /* Rows added before start are in the store too (same transaction): keep one. */
    for (size_t i = 0; i < before; i++)
        for (size_t j = before; j < ob->n; j++)
            if (ob->items[j]->pub.id == ob->items[i]->pub.id)
                ob->items[j]->done = true;
    compact(ob);
    if (ob->n > 1)
        qsort(ob->items, ob->n, sizeof(*ob->items), item_cmp);
    for (size_t i = 0; i < ob->n; i++)
        if (ob->items[i]->pub.id > ob->last_id)
            ob->last_id = ob->items[i]->pub.id;
    if (ob->n)
        sb_info("outbox: %zu undelivered messages read back", ob->n - before);
    schedule(hub, ob, sb_hub_now());
    return 0;
}

void hub__outbox_stop(sb_hub_t *hub)
{
    hub_outbox_t *ob = hub->chan ? hub->chan->outbox : NULL;

    if (!ob)
        return;
    lws_sul_cancel(&ob->sul);
    ob->scheduled = false;
    for (size_t i = 0; i < ob->n; i++) {
        hub__http_call_cancel(ob->items[i]->call);
        ob->items[i]->call = NULL;
        ob->items[i]->inflight = false;
    }
}

void hub__outbox_free(sb_hub_t *hub)
{
    hub_outbox_t *ob = hub->chan ? hub->chan->outbox : NULL;

    if (!ob)
        return;
    for (size_t i = 0; i < ob->n; i++)
        item_free(ob->items[i]);
    free(ob->items);
    free(ob->chans);
    free(ob);
    hub->chan->outbox = NULL;
}
