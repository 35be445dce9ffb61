/*
 * connector.c - the connector endpoint /v1/connector (protocol.md section 5):
 * social connectors (bridges to LINE, WeChat, a WhatsApp BSP ...) that carry
 * the channels named in their channels.connectors entry.
 *
 * The first frame authenticates: {"type":"auth","key"} is hashed with
 * SHA-256 and compared in constant time with every connector's key_sha256
 * (a failure, or any other first frame, is "unauthorized" and close 1008).
 * Then:
 *   - inbound: a customer message; the same external_id again is answered
 *     with the same conversation and seq and stored once;
 *   - outbound (from the router): agents', bots' and system messages of the
 *     conversations of its channels, each with a delivery_id, stored in the
 *     outbox first; sent to the newest connection of a connector carrying
 *     the channel, and again to every connection of such a connector that
 *     authenticates, until one answers {"type":"delivered","delivery_id"}.
 * Notices without a seq (agent joined, queue position) are not sent to
 * connectors: they are not part of the transcript a connector relays.
 */
#include "social.h"
#include "switchboard/codec.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOSE_POLICY 1008

typedef struct conn_sess {
    sb_session_t *s;
    bool authed;
    char id[64];                /* the connector's id */
    char **channels;            /* NULL-terminated copies (a reload may change the config) */
    uint64_t order;             /* later authentications are preferred */
    struct conn_sess *prev, *next;
} conn_sess_t;

typedef struct conn_state {
    conn_sess_t *authed;        /* authenticated connections */
    uint64_t counter;
} conn_state_t;

static conn_state_t *state(sb_hub_t *hub, bool create)
{
    void **slot = sb_channel_state(hub, &sb_channel_connector);

    if (!*slot && create)
        *slot = sb_calloc(1, sizeof(conn_state_t));
    return *slot;
}

static bool carries(const conn_sess_t *cs, const char *channel)
{
    for (size_t i = 0; cs->channels && cs->channels[i]; i++)
        if (strcmp(cs->channels[i], channel) == 0)
            return true;
    return false;
}

/* The newest authenticated connection carrying channel, or NULL. */
static conn_sess_t *carrier(sb_hub_t *hub, const char *channel)
{
    conn_state_t *st = state(hub, false);
    conn_sess_t *best = NULL;

    for (conn_sess_t *cs = st ? st->authed : NULL; cs; cs = cs->next)
        if (carries(cs, channel) && (!best || cs->order > best->order))
            best = cs;
    return best;
}

static json_t *outbound_frame(const sb_outbox_item_t *item)
{
    char id[24];

    snprintf(id, sizeof(id), "%lld", (long long)item->id);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "type", "outbound", "delivery_id", id,
                     "channel", item->channel, "contact_id", item->contact_id,
                     "conversation_id", item->conversation_id,
                     "seq", (json_int_t)item->seq, "text", item->text);
}

static int cn_open(sb_session_t *s)
{
    conn_sess_t *cs = sb_calloc(1, sizeof(*cs));

    cs->s = s;
    sb_session_set_data(s, cs);
    return 0;
}

static void unlink_sess(sb_hub_t *hub, conn_sess_t *cs)
{
    conn_state_t *st = state(hub, false);

    if (!cs->authed)
        return;
    if (cs->prev)
        cs->prev->next = cs->next;
    else if (st && st->authed == cs)
        st->authed = cs->next;
    if (cs->next)
        cs->next->prev = cs->prev;
    cs->prev = cs->next = NULL;
    cs->authed = false;
}

static void free_channels(conn_sess_t *cs)
{
    for (size_t i = 0; cs->channels && cs->channels[i]; i++)
        free(cs->channels[i]);
    free(cs->channels);
    cs->channels = NULL;
}

static void cn_close(sb_session_t *s)
{
    conn_sess_t *cs = sb_session_data(s);

    if (!cs)
        return;
    if (cs->authed)
        sb_info("connector %s disconnected", cs->id);
    unlink_sess(sb_session_hub(s), cs);
    free_channels(cs);
    free(cs);
    sb_session_set_data(s, NULL);
}

static void resend(const sb_outbox_item_t *item, void *arg)
{
    sb_session_send(arg, outbound_frame(item));
}

static void auth(sb_session_t *s, conn_sess_t *cs, json_t *frame, const char *ref)
{
    sb_hub_t *hub = sb_session_hub(s);
    const sb_config_t *cfg = sb_hub_config(hub);
    const sb_cfg_connector_t *found = NULL;
    const char *key = NULL;
    unsigned char hash[SHA256_DIGEST_LENGTH];
    char msg[200];
    conn_state_t *st;
    json_t *chans;

    if (sb_codec_str(frame, "key", true, &key, msg, sizeof(msg)) < 0) {
        sb_session_error(s, ref, "unauthorized", "%s", msg);
        sb_session_close(s, CLOSE_POLICY, "authentication failed");
        return;
    }
    SHA256((const unsigned char *)key, strlen(key), hash);
    for (size_t i = 0; i < cfg->channels.nconnectors; i++)     /* every one, every time */
        if (CRYPTO_memcmp(hash, cfg->channels.connectors[i].key_sha256, sizeof(hash)) == 0)
            found = &cfg->channels.connectors[i];
    if (!found) {
        sb_warn("connector: authentication failed");
        sb_session_error(s, ref, "unauthorized", "authentication failed");
        sb_session_close(s, CLOSE_POLICY, "authentication failed");
        return;
    }
    st = state(hub, true);
    snprintf(cs->id, sizeof(cs->id), "%s", found->id);
    cs->channels = sb_calloc(found->nchannels + 1, sizeof(char *));
    chans = json_array();
    for (size_t i = 0; i < found->nchannels; i++) {
        cs->channels[i] = sb_strdup(found->channels[i]);
        json_array_append_new(chans, json_string(found->channels[i]));
    }
    cs->authed = true;
    cs->order = ++st->counter;
    cs->next = st->authed;
    if (st->authed)
        st->authed->prev = cs;
    st->authed = cs;
    sb_info("connector %s signed in (%zu channels)", cs->id, found->nchannels);
    sb_session_send_now(s, json_pack("{s:s,s:s*,s:s,s:o}", "type", "welcome", "ref", ref,
                                     "connector", cs->id, "channels", chans));
    for (size_t i = 0; cs->channels[i]; i++)
        sb_outbox_each(hub, cs->channels[i], resend, s);
}

static void inbound(sb_session_t *s, conn_sess_t *cs, json_t *frame, const char *ref)
{
    sb_hub_t *hub = sb_session_hub(s);
    const char *channel = NULL, *text = NULL, *external_id = NULL;
    const char *contact_id = NULL, *name = NULL, *language = NULL;
    json_t *contact = json_object_get(frame, "contact"), *attrs;
    sb_channel_inbound_t in;
    sb_channel_result_t res;
    char msg[200];
    int rc;

    if (sb_codec_str(frame, "channel", true, &channel, msg, sizeof(msg)) < 0 ||
        sb_codec_str(frame, "text", true, &text, msg, sizeof(msg)) < 0 ||
        sb_codec_str(frame, "external_id", true, &external_id, msg, sizeof(msg)) < 0) {
        sb_session_error(s, ref, "bad_request", "%s", msg);
        return;
    }
    if (!json_is_object(contact)) {
        sb_session_error(s, ref, "bad_request", "field 'contact' must be an object with "
                         "a string 'id'");
        return;
    }
    if (sb_codec_str(contact, "id", true, &contact_id, msg, sizeof(msg)) < 0 ||
        sb_codec_str(contact, "name", false, &name, msg, sizeof(msg)) < 0 ||
        sb_codec_str(contact, "language", false, &language, msg, sizeof(msg)) < 0) {
        sb_session_error(s, ref, "bad_request", "contact: %s", msg);
        return;
    }
    if (!*contact_id || strlen(contact_id) > 256) {
        sb_session_error(s, ref, "bad_request", "field 'contact.id' must be 1-256 characters");
        return;
    }
    if (!*external_id || strlen(external_id) > 256) {
        sb_session_error(s, ref, "bad_request", "field 'external_id' must be 1-256 characters");
        return;
    }
    if (!*text) {
        sb_session_error(s, ref, "bad_request", "field 'text' must not be empty");
        return;
    }
    if (!carries(cs, channel)) {
        sb_session_error(s, ref, "forbidden", "connector '%s' does not carry channel '%s'",
                         cs->id, channel);
        return;
    }
    memset(&in, 0, sizeof(in));
    in.channel = channel;
    in.contact_id = contact_id;
    in.contact_name = name;
    in.language = language;
    in.external_id = external_id;
    in.text = text;
    in.pool = -1;
    attrs = json_pack("{s:s}", "connector", cs->id);
    in.attributes = attrs;
    rc = sb_channel_inbound(hub, &in, &res);
    json_decref(attrs);
    if (rc < 0) {
        sb_session_error(s, ref, sb_error_code(rc), "inbound: %s", sb_strerror(rc));
        return;
    }
    sb_session_ok(s, ref, json_pack("{s:s,s:I}", "conversation_id", res.conv_id,
                                     "seq", (json_int_t)res.seq));
}

static void delivered(sb_session_t *s, conn_sess_t *cs, json_t *frame, const char *ref)
{
    sb_hub_t *hub = sb_session_hub(s);
    json_t *v = json_object_get(frame, "delivery_id");
    long long id = 0;
    char *end = NULL;
    int rc;

    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        id = strtoll(t, &end, 10);
        if (!*t || *end)
            id = 0;
    } else if (json_is_integer(v)) {
        id = json_integer_value(v);
    }
    if (id <= 0) {
        sb_session_error(s, ref, "bad_request", "field 'delivery_id' must be a delivery id "
                         "from an outbound frame");
        return;
    }
    if (!sb_hub_store_ok(hub)) {
        sb_session_error(s, ref, "unavailable", "the store cannot write right now");
        return;
    }
    rc = sb_outbox_delivered(hub, id, (const char *const *)cs->channels);
    if (rc < 0) {
        sb_session_error(s, ref, sb_error_code(rc), "no outbound message %lld waits for "
                         "this connector", id);
        return;
    }
    if (ref)
        sb_session_ok(s, ref, NULL);
}

static void cn_frame(sb_session_t *s, json_t *frame, const char *type, const char *ref)
{
    conn_sess_t *cs = sb_session_data(s);

    if (!cs->authed) {
        if (strcmp(type, "auth") == 0) {
            auth(s, cs, frame, ref);
            return;
        }
        sb_session_error(s, ref, "unauthorized", "send 'auth' first");
        sb_session_close(s, CLOSE_POLICY, "authentication required");
        return;
    }
    if (strcmp(type, "inbound") == 0) {
        inbound(s, cs, frame, ref);
    } else if (strcmp(type, "delivered") == 0) {
        delivered(s, cs, frame, ref);
    } else if (strcmp(type, "auth") == 0) {
        sb_session_error(s, ref, "conflict", "already authenticated");
    } else {
        sb_session_error(s, ref, "unknown_type", "unknown type '%s' on the connector endpoint",
                         type);
        sb_session_bad_frame(s);
    }
}

static void cn_deliver(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act)
{
    const sb_message_t *m;
    conn_sess_t *cs;
    int64_t id = 0;

    if (act->kind == SB_ACT_CLOSED) {
        sb_channel_conv_forget(hub, conv);
        return;
    }
    if (act->kind != SB_ACT_MESSAGE || !conv->customer_contact)
        return;
    m = &conv->msgs[act->index];
    if (m->from == SB_FROM_CUSTOMER || !m->text || !*m->text)
        return;
    sb_outbox_add(hub, conv->channel, conv->id, m->seq, conv->customer_contact, "message",
                  m->text, 0, &id);
    if (id > 0 && (cs = carrier(hub, conv->channel))) {
        sb_outbox_item_t item;
        memset(&item, 0, sizeof(item));
        item.id = id;
        snprintf(item.channel, sizeof(item.channel), "%s", conv->channel);
        snprintf(item.conversation_id, sizeof(item.conversation_id), "%s", conv->id);
        item.seq = m->seq;
        item.contact_id = conv->customer_contact;
        item.text = m->text;
        /* Goes out with the turn's commit, after the row is stored. */
        sb_session_send(cs->s, outbound_frame(&item));
    }
}

static void cn_stop(sb_hub_t *hub)
{
    void **slot = sb_channel_state(hub, &sb_channel_connector);
    conn_state_t *st = *slot;

    /* Connections close after this: they find no list. */
    for (conn_sess_t *cs = st ? st->authed : NULL; cs; cs = cs->next)
        cs->authed = false;
    free(st);
    *slot = NULL;
}

const sb_channel_methods_t sb_channel_connector = {
    .name = "connector",
    .ws_path = "/v1/connector",
    .session_kind = SB_SESSION_CONNECTOR,
    .on_open = cn_open,
    .on_frame = cn_frame,
    .on_close = cn_close,
    .deliver = cn_deliver,
    .stop = cn_stop,
};
