/*
 * webchat.c - the web chat channel: the customer WebSocket endpoint
 * /v1/customer (protocol.md section 3) and delivery of notices and agent
 * messages to the customer's socket.
 *
 * A conversation outlives its socket: when the socket drops, the
 * conversation stays (queued or with its agent) and the customer resumes it
 * with its id and token; everything after last_seq is replayed in order.
 */
#include "switchboard/channel.h"
#include "switchboard/codec.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

typedef struct webchat {
    sb_conv_t *conv;       /* NULL before hello and after close */
    bool hello_done;
} webchat_t;

static int wc_open(sb_session_t *s)
{
    sb_session_set_data(s, sb_calloc(1, sizeof(webchat_t)));
    return 0;
}

static void wc_close(sb_session_t *s)
{
    webchat_t *wc = sb_session_data(s);

    if (wc && wc->conv && wc->conv->user == s)
        wc->conv->user = NULL;
    free(wc);
    sb_session_set_data(s, NULL);
}

static void send_error(sb_session_t *s, const char *ref, int rc, const char *what)
{
    sb_session_error(s, ref, sb_error_code(rc), "%s: %s", what, sb_strerror(rc));
}

static json_t *welcome(const sb_config_t *cfg, const sb_conv_t *conv, const char *token,
                       uint64_t seq)
{
    json_t *o = json_object();

    json_object_set_new(o, "type", json_string("welcome"));
    json_object_set_new(o, "conversation_id", json_string(conv->id));
    json_object_set_new(o, "token", json_string(token));
    json_object_set_new(o, "language", json_string(cfg->languages[conv->language]));
    json_object_set_new(o, "state", json_string(sb_conv_state_name(conv->state)));
    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    return o;
}

/* Attaches the socket to conv, taking it from an older socket if any. */
static void attach(sb_session_t *s, webchat_t *wc, sb_conv_t *conv)
{
    sb_session_t *old = conv->user;

    if (old && old != s) {
        webchat_t *owc = sb_session_data(old);
        if (owc)
            owc->conv = NULL;
        sb_session_close(old, 1000, "resumed on another connection");
    }
    conv->user = s;
    wc->conv = conv;
    wc->hello_done = true;
}

/* A resume of a conversation that is closed (no longer in memory): the
 * token is checked against the stored hash, then the welcome says "closed"
 * and every message after last_seq follows, read from the store. */
struct closed_resume {
    sb_session_t *s;
    const char *token;
    uint64_t last_seq;
    bool found;
};

static int closed_resume_cb(void *arg, sb_conv_t *conv, const char *agent_id)
{
    struct closed_resume *cr = arg;
    const sb_config_t *cfg = sb_hub_config(sb_session_hub(cr->s));
    unsigned char hash[SHA256_DIGEST_LENGTH];

    (void)agent_id;
    SHA256((const unsigned char *)cr->token, strlen(cr->token), hash);
    if (conv->state != SB_CONV_CLOSED ||
        CRYPTO_memcmp(hash, conv->token_sha256, sizeof(hash)) != 0)
        return 0;
    cr->found = true;
    sb_session_send_now(cr->s, welcome(cfg, conv, cr->token, conv->last_seq));
    for (size_t i = 0; i < conv->nmsgs; i++)
        if (conv->msgs[i].seq > cr->last_seq)
            sb_session_send_now(cr->s, sb_codec_message(conv, &conv->msgs[i]));
    return 0;
}

static void hello_resume(sb_session_t *s, webchat_t *wc, json_t *resume, const char *ref)
{
    sb_hub_t *hub = sb_session_hub(s);
    const char *id = NULL, *token = NULL;
    int64_t last_seq = 0;
    unsigned char hash[SHA256_DIGEST_LENGTH];
    char msg[200];
    sb_conv_t *conv;

    if (!json_is_object(resume)) {
        sb_session_error(s, ref, "bad_request", "field 'resume' must be an object");
        return;
    }
    if (sb_codec_str(resume, "conversation_id", true, &id, msg, sizeof(msg)) < 0 ||
        sb_codec_str(resume, "token", true, &token, msg, sizeof(msg)) < 0 ||
        sb_codec_int(resume, "last_seq", false, &last_seq, msg, sizeof(msg)) < 0) {
        sb_session_error(s, ref, "bad_request", "resume: %s", msg);
        return;
    }
    if (last_seq < 0) {
        sb_session_error(s, ref, "bad_request", "resume: field 'last_seq' must be >= 0");
        return;
    }
    conv = sb_core_conv_find(sb_hub_core(hub), id);
    if (!conv && strlen(id) < sizeof(conv->id)) {
        struct closed_resume cr = { s, token, (uint64_t)last_seq, false };
        sb_store_load_conv(sb_hub_store(hub), id, closed_resume_cb, &cr);
        if (cr.found) {
            wc->hello_done = true;      /* nothing more to do on it but read */
            return;
        }
    }
    SHA256((const unsigned char *)token, strlen(token), hash);
    if (!conv || CRYPTO_memcmp(hash, conv->token_sha256, sizeof(hash)) != 0) {
        /* One answer for both: the id alone reveals nothing. */
        sb_session_error(s, ref, "unauthorized",
                         "no open conversation with this id and token");
        return;
    }
    attach(s, wc, conv);
    sb_session_send(s, welcome(sb_hub_config(hub), conv, token, conv->last_seq));
    for (size_t i = 0; i < conv->nmsgs; i++)
        if (conv->msgs[i].seq > (uint64_t)last_seq)
            sb_session_send(s, sb_codec_message(conv, &conv->msgs[i]));
}

static void hello(sb_session_t *s, webchat_t *wc, json_t *frame, const char *ref)
{
    sb_hub_t *hub = sb_session_hub(s);
    const sb_config_t *cfg = sb_hub_config(hub);
    sb_conv_spec_t spec;
    json_t *resume, *attributes = NULL;
    char msg[200], id[33], token[65];
    sb_conv_t *conv;
    int err = 0;

    if (wc->hello_done) {
        sb_session_error(s, ref, "conflict", "hello was already sent on this connection");
        return;
    }
    resume = json_object_get(frame, "resume");
    if (resume && !json_is_null(resume)) {
        hello_resume(s, wc, resume, ref);
        return;
    }
    if (!sb_hub_store_ok(hub)) {
        sb_session_error(s, ref, "unavailable", "the store cannot write right now; try again");
        return;
    }
    memset(&spec, 0, sizeof(spec));
    spec.channel = "webchat";
    spec.media = SB_MEDIA_CHAT;
    spec.pool = -1;
    if (sb_codec_str(frame, "name", false, &spec.name, msg, sizeof(msg)) < 0 ||
        sb_codec_str(frame, "email", false, &spec.email, msg, sizeof(msg)) < 0 ||
        sb_codec_str(frame, "language", false, &spec.language, msg, sizeof(msg)) < 0 ||
        sb_codec_str(frame, "topic", false, &spec.topic, msg, sizeof(msg)) < 0 ||
        sb_codec_flat_object(frame, "attributes", &attributes, msg, sizeof(msg)) < 0) {
        sb_session_error(s, ref, "bad_request", "%s", msg);
        return;
    }
    if (spec.topic && sb_config_topic(cfg, spec.topic) < 0) {
        sb_session_error(s, ref, "bad_request", "field 'topic': no such topic '%s'",
                         spec.topic);
        return;
    }
    sb_hub_random_hex(id, 16);
    sb_hub_random_hex(token, 32);
    spec.id = id;
    if (attributes)
        spec.attributes = json_deep_copy(attributes);
    conv = sb_core_conv_open(sb_hub_core(hub), &spec, sb_hub_now(), &err);
    json_decref(spec.attributes);       /* the core holds its own reference */
    if (!conv) {
        send_error(s, ref, err, "cannot open a conversation");
        return;
    }
    SHA256((const unsigned char *)token, strlen(token), conv->token_sha256);
    attach(s, wc, conv);
    /* welcome goes first; the core's queue/agent_joined follow at drain. */
    sb_session_send(s, welcome(cfg, conv, token, conv->last_seq));
}

/* A message from the customer, its fields checked. */
static void customer_message(sb_session_t *s, webchat_t *wc, const char *text, const char *ref)
{
    uint64_t seq = 0;
    int rc = sb_core_customer_message(sb_hub_core(sb_session_hub(s)), wc->conv, text,
                                      sb_hub_now(), &seq);

    if (rc < 0) {
        send_error(s, ref, rc, "message");
        return;
    }
    sb_session_ok_seq(s, ref, seq, wc->conv->id);
}

/* The hot request without a tree: a well-formed "message" in a conversation
 * that can take it. Anything else goes to wc_frame, which says what is wrong. */
static bool wc_flat(sb_session_t *s, const sb_flat_t *f)
{
    webchat_t *wc = sb_session_data(s);
    const char *type, *text, *ref;
    size_t len;
    bool b;

    if (!wc || !wc->hello_done || !wc->conv || !sb_hub_store_ok(sb_session_hub(s)) ||
        sb_flat_get(f, "type", &type, &len, &b) != 1 || strcmp(type, "message") != 0 ||
        sb_flat_get(f, "text", &text, &len, &b) != 1 || len == 0 || sb_flat_ref(f, &ref) < 0)
        return false;
    customer_message(s, wc, text, ref);
    return true;
}

static void wc_frame(sb_session_t *s, json_t *frame, const char *type, const char *ref)
{
    webchat_t *wc = sb_session_data(s);
    sb_hub_t *hub = sb_session_hub(s);
    sb_core_t *core = sb_hub_core(hub);
    char msg[200];
    int rc;

    if (strcmp(type, "hello") == 0) {
        hello(s, wc, frame, ref);
        return;
    }
    if (strcmp(type, "message") && strcmp(type, "typing") && strcmp(type, "escalate") &&
        strcmp(type, "callback") && strcmp(type, "close")) {
        sb_session_error(s, ref, "unknown_type", "unknown type '%s' on the customer endpoint",
                         type);
        sb_session_bad_frame(s);
        return;
    }
    if (!wc->hello_done) {
        sb_session_error(s, ref, "bad_request", "send 'hello' first");
        return;
    }
    if (!wc->conv) {
        sb_session_error(s, ref, "conflict", "the conversation is closed");
        return;
    }
    if (strcmp(type, "typing") != 0 && !sb_hub_store_ok(hub)) {
        sb_session_error(s, ref, "unavailable", "the store cannot write right now; try again");
        return;
    }

    if (strcmp(type, "message") == 0) {
        const char *text = NULL;
        if (sb_codec_str(frame, "text", true, &text, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        customer_message(s, wc, text, ref);
    } else if (strcmp(type, "typing") == 0) {
        bool on = false;
        sb_agent_t *agent = wc->conv->agent;
        if (sb_codec_bool(frame, "on", &on, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        if (agent && agent->user && wc->conv->state == SB_CONV_ASSIGNED)
            sb_session_send_now(agent->user, json_pack("{s:s,s:s,s:b,s:s}", "type", "typing",
                                                       "conversation_id", wc->conv->id,
                                                       "on", on, "from", "customer"));
        if (ref)
            sb_session_ok_now(s, ref, NULL);
    } else if (strcmp(type, "escalate") == 0) {
        const char *reason = NULL;
        if (sb_codec_str(frame, "reason", false, &reason, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        rc = sb_core_customer_escalate(core, wc->conv, reason, sb_hub_now());
        if (rc < 0) {
            send_error(s, ref, rc, "escalate");
            return;
        }
        sb_session_ok(s, ref, NULL);
    } else if (strcmp(type, "callback") == 0) {
        const char *phone = NULL;
        if (sb_codec_str(frame, "phone", true, &phone, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        sb_conv_t *task = NULL;
        char *notice = NULL;
        rc = sb_channel_voice_callback(hub, wc->conv, phone, &task, &notice);
        if (rc == SB_EINVAL) {
            sb_session_error(s, ref, "bad_request",
                             "field 'phone' must be an E.164 number such as +15551234567");
            return;
        }
        if (rc < 0) {
            sb_session_error(s, ref, "unavailable", sb_hub_config(hub)->channels.voice
                             ? "the callback cannot be stored right now; try again"
                             : "callback requests need the voice channel, which is not "
                               "configured");
            return;
        }
        sb_session_ok(s, ref, json_pack("{s:s,s:s}", "callback_id", task->id,
                                        "text", notice));
        free(notice);
    } else { /* close */
        rc = sb_core_customer_close(core, wc->conv, sb_hub_now());
        if (rc < 0) {
            send_error(s, ref, rc, "close");
            return;
        }
        sb_session_ok(s, ref, NULL);
    }
}

static void wc_deliver(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act)
{
    const sb_config_t *cfg = sb_hub_config(hub);
    sb_session_t *s = conv->user;
    const char *pool = act->pool >= 0 && (size_t)act->pool < cfg->npools
                           ? cfg->pools[act->pool].id : NULL;
    json_t *o;

    if (!s)
        return;         /* the customer catches up when it resumes */
    switch (act->kind) {
    case SB_ACT_MESSAGE: {
        sb_text_t *t = sb_hub_text(hub);
        sb_codec_message_text(t, conv, &conv->msgs[act->index]);
        sb_session_send_text(s, t->buf, t->len);
        return;
    }
    case SB_ACT_QUEUE:
        o = json_pack("{s:s,s:s?,s:i,s:i,s:s}", "type", "queue", "pool", pool,
                      "position", act->position, "eta_s", act->eta_s,
                      "text", act->text ? act->text : "");
        break;
    case SB_ACT_AGENT_JOINED: {
        const sb_cfg_agent_t *a = conv->agent ? conv->agent->cfg : NULL;
        o = json_pack("{s:s,s:s?,s:s?,s:s}", "type", "agent_joined",
                      "name", a ? (a->name ? a->name : a->id) : NULL, "pool", pool,
                      "text", act->text ? act->text : "");
        break;
    }
    case SB_ACT_TRANSFERRING:
        o = json_pack("{s:s,s:s?,s:s,s:s}", "type", "transferring", "to_pool", pool,
                      "kind", act->esc_kind ? act->esc_kind : "functional",
                      "text", act->text ? act->text : "");
        break;
    case SB_ACT_CLOSED: {
        webchat_t *wc = sb_session_data(s);
        o = json_pack("{s:s,s:s,s:s}", "type", "closed",
                      "reason", act->reason ? act->reason : "closed",
                      "text", act->text ? act->text : "");
        if (wc)
            wc->conv = NULL;
        conv->user = NULL;
        break;
    }
    default:
        return;
    }
    sb_session_send(s, o);
}

static void wc_typing(sb_hub_t *hub, sb_conv_t *conv, bool on)
{
    (void)hub;
    if (conv->user)
        sb_session_send_now(conv->user, json_pack("{s:s,s:b,s:s}", "type", "typing", "on", on,
                                                  "from", "agent"));
}

const sb_channel_methods_t sb_channel_webchat = {
    .name = "webchat",
    .ws_path = "/v1/customer",
    .session_kind = SB_SESSION_CUSTOMER,
    .on_open = wc_open,
    .on_frame = wc_frame,
    .on_flat = wc_flat,
    .on_close = wc_close,
    .deliver = wc_deliver,
    .typing = wc_typing,
};
