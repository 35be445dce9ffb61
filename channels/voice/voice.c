/*
 * voice.c - the voice channel: Twilio-style voice webhooks and status
 * callbacks on /v1/webhooks/voice, and callback requests from web chat.
 *
 * Every request is checked with X-Twilio-Signature over channels.voice.
 * public_url + the request's path (and query) + the POST parameters, before
 * anything else is read. An inbound call (the first webhook of a CallSid)
 * becomes a voice conversation (media voice, so only agents with voice
 * capacity get it) in the voice pool, answered with TwiML: the localized
 * voice_greeting spoken in the conversation's language, then <Enqueue> into
 * a Twilio queue named after the pool, where the caller holds until an agent
 * takes the call from it. Later webhooks of the call (status callbacks) find
 * the conversation by its CallSid (kept in the store, so a restart does not
 * lose it); the agent holding it gets {"type":"call_status"}, and completed,
 * busy, failed, no-answer and canceled close it, which releases the agent.
 *
 * A callback request (protocol.md section 3.7) opens a voice task with the
 * chat's context; when an agent takes it, the router asks the Calls API to
 * call the customer (voice.account_sid and voice.caller_id are needed), and
 * that call's webhooks come back here like any other, found by the CallSid
 * the Calls API answered.
 */
#include "switchboard/channel.h"

#include <stdio.h>
#include <string.h>

#define SIGNATURE_MAX 200
#define EXCERPT_MAX   1000

static const char empty_twiml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/* text with every {name} replaced by value. New string. */
static char *fill(const char *text, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), n = 0, cap = strlen(text) + 1;
    char *out;
    const char *p;

    for (p = strstr(text, name); p; p = strstr(p + nl, name))
        cap += vl;
    out = sb_malloc(cap);
    for (p = text; *p;) {
        if (strncmp(p, name, nl) == 0) {
            memcpy(out + n, value, vl);
            n += vl;
            p += nl;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

static const char *pool_id(const sb_config_t *cfg, int pool)
{
    return pool >= 0 && (size_t)pool < cfg->npools ? cfg->pools[pool].id : "voice";
}

static void reply_twiml(sb_http_exchange_t *x, char *twiml)
{
    if (!twiml) {
        sb_http_reply(x, 200, "text/xml", empty_twiml, sizeof(empty_twiml) - 1);
        return;
    }
    sb_http_reply(x, 200, "text/xml", twiml, strlen(twiml));
    free(twiml);
}

/* "call:<CallSid>": the inbound-id key that finds a call's conversation. */
static void call_key(char *buf, size_t len, const char *sid)
{
    snprintf(buf, len, "call:%s", sid);
}

static sb_conv_t *call_conv(sb_hub_t *hub, const char *sid, bool *known)
{
    char key[96], conv_id[40];
    uint64_t seq;
    sb_conv_t *conv;

    *known = false;
    call_key(key, sizeof(key), sid);
    if (sb_channel_seen(hub, "voice", key, conv_id, &seq) != 0)
        return NULL;
    *known = true;
    conv = sb_core_conv_find(sb_hub_core(hub), conv_id);
    return conv && conv->state != SB_CONV_CLOSED ? conv : NULL;
}

/* The TwiML that holds a caller for conv: greeting, then the pool's queue. */
static char *hold_twiml(const sb_config_t *cfg, const sb_conv_t *conv)
{
    const char *pool = pool_id(cfg, conv->pool);
    char *say = fill(sb_config_template(cfg, conv->language, SB_TPL_VOICE_GREETING), "{pool}",
                     pool);
    char *twiml = sb_platform_twiml_enqueue(cfg->languages[conv->language], say, pool, NULL);

    free(say);
    return twiml;
}

static void on_call(sb_http_exchange_t *x, const sb_platform_event_t *ev)
{
    sb_hub_t *hub = sb_http_hub(x);
    const sb_config_t *cfg = sb_hub_config(hub);
    bool known;
    sb_conv_t *conv = call_conv(hub, ev->ref_id, &known);
    int err = 0;

    if (!conv && !known && ev->direction && strcmp(ev->direction, "inbound") == 0) {
        sb_conv_spec_t spec;
        json_t *attrs = json_pack("{s:s}", "call_sid", ev->ref_id);
        char key[96];

        if (ev->business_id)
            json_object_set_new(attrs, "called", json_string(ev->business_id));
        memset(&spec, 0, sizeof(spec));
        spec.channel = "voice";
        spec.media = SB_MEDIA_VOICE;
        spec.name = ev->contact_name;
        spec.contact = ev->contact_id;
        spec.pool = cfg->channels.vo_pool;
        spec.attributes = attrs;
        conv = sb_channel_conv_open(hub, &spec, NULL, NULL, &err);
        json_decref(attrs);
        if (!conv) {
            sb_warn("voice: call %s cannot be taken: %s", ev->ref_id, sb_strerror(err));
            reply_twiml(x, sb_platform_twiml_say_hangup(
                cfg->languages[cfg->default_language],
                "Sorry, we cannot take your call right now. Please try again later."));
            return;
        }
        call_key(key, sizeof(key), ev->ref_id);
        sb_channel_record(hub, "voice", key, conv->id, 0, sb_hub_now());
        sb_info("voice: call %s from %s -> conversation %s", ev->ref_id,
                ev->contact_id ? ev->contact_id : "?", conv->id);
        sb_hub_drain(hub);
    }
    if (!conv) {
        sb_info("voice: %s for call %s, which has no open conversation", ev->status,
                ev->ref_id);
        reply_twiml(x, NULL);
        return;
    }
    sb_channel_to_agent(conv, json_pack("{s:s,s:s,s:s,s:s}", "type", "call_status",
                                        "conversation_id", conv->id, "call_sid", ev->ref_id,
                                        "status", ev->status));
    reply_twiml(x, hold_twiml(cfg, conv));
}

static void on_call_ended(sb_http_exchange_t *x, const sb_platform_event_t *ev)
{
    sb_hub_t *hub = sb_http_hub(x);
    bool known;
    sb_conv_t *conv = call_conv(hub, ev->ref_id, &known);

    if (conv) {
        sb_channel_to_agent(conv, json_pack("{s:s,s:s,s:s,s:s}", "type", "call_status",
                                            "conversation_id", conv->id,
                                            "call_sid", ev->ref_id, "status", ev->status));
        sb_info("voice: call %s %s (%d s): conversation %s closes", ev->ref_id, ev->status,
                ev->duration_s, conv->id);
        sb_core_customer_close(sb_hub_core(hub), conv, sb_hub_now());
        sb_hub_drain(hub);
    } else {
        sb_info("voice: call %s %s; no open conversation", ev->ref_id, ev->status);
    }
    reply_twiml(x, NULL);
}

static void vo_http(sb_http_exchange_t *x)
{
    sb_hub_t *hub = sb_http_hub(x);
    const sb_config_t *cfg = sb_hub_config(hub);
    const char *body, *query = sb_http_query(x);
    sb_platform_params_t *params = NULL;
    sb_platform_events_t *events;
    char ctype[80], sig[SIGNATURE_MAX], err[300], *url;
    size_t len, n;

    if (!cfg->channels.voice) {
        sb_warn("voice: webhook called but channels.voice is not configured");
        sb_http_reply_error(x, 404, "not_found", "this channel is not configured");
        return;
    }
    if (strcmp(sb_http_method(x), "POST") != 0) {
        sb_http_reply_error(x, 405, "bad_request", "use POST");
        return;
    }
    sb_http_content_type(x, ctype, sizeof(ctype));
    if (strcmp(ctype, "application/x-www-form-urlencoded") != 0) {
        sb_warn("voice: webhook refused: content type \"%s\"", ctype);
        sb_http_reply_error(x, 415, "bad_request", "send application/x-www-form-urlencoded");
        return;
    }
    body = sb_http_body(x, &len);
    if (sb_platform_form_parse(body, len, &params, err, sizeof(err)) < 0) {
        sb_warn("voice: webhook refused (400): %s", err);
        sb_http_reply_error(x, 400, "bad_request", err);
        return;
    }
    if (sb_http_header(x, "x-twilio-signature", sig, sizeof(sig)) < 0 || !sig[0]) {
        sb_warn("voice: webhook refused (401): no X-Twilio-Signature header");
        sb_platform_params_free(params);
        sb_http_reply_error(x, 401, "unauthorized", "no X-Twilio-Signature header");
        return;
    }
    /* The URL Twilio requested, as configured there. */
    n = strlen(cfg->channels.vo_public_url) + strlen(sb_http_path(x)) + strlen(query) + 2;
    url = sb_malloc(n);
    snprintf(url, n, "%s%s%s%s", cfg->channels.vo_public_url, sb_http_path(x),
             *query ? "?" : "", query);
    if (sb_platform_check_twilio_signature(cfg->channels.vo_auth_token, url, params, sig) < 0) {
        sb_warn("voice: webhook refused (403): X-Twilio-Signature does not match");
        free(url);
        sb_platform_params_free(params);
        sb_http_reply_error(x, 403, "forbidden", "X-Twilio-Signature does not match");
        return;
    }
    free(url);
    if (!sb_hub_store_ok(hub)) {
        sb_platform_params_free(params);
        sb_http_reply_error(x, 503, "unavailable", "the store cannot write right now");
        return;
    }
    events = sb_platform_events_new();
    if (sb_platform_parse_voice(params, events, err, sizeof(err)) < 0) {
        sb_warn("voice: webhook payload refused (400): %s", err);
        sb_http_reply_error(x, 400, "bad_request", err);
    } else if (events->n == 0) {
        reply_twiml(x, NULL);
    } else {
        const sb_platform_event_t *ev = &events->items[0];
        if (ev->kind == SB_PLATFORM_EV_CALL) {
            on_call(x, ev);
        } else if (ev->kind == SB_PLATFORM_EV_CALL_ENDED) {
            on_call_ended(x, ev);
        } else {
            sb_info("voice: webhook %s ignored (%s)", ev->external_id,
                    ev->reason ? ev->reason : "not handled");
            reply_twiml(x, NULL);
        }
    }
    sb_platform_events_free(events);
    sb_platform_params_free(params);
}

static void vo_deliver(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act)
{
    const sb_config_t *cfg = sb_hub_config(hub);
    json_t *cb_for = conv->attributes ? json_object_get(conv->attributes, "callback_for") : NULL;

    switch (act->kind) {
    case SB_ACT_AGENT_JOINED:
        /* A callback task taken by an agent: now call the customer. */
        if (json_is_string(cb_for) && conv->customer_contact &&
            sb_channel_first(hub, conv, "call")) {
            if (!cfg->channels.vo_account_sid || !cfg->channels.vo_caller_id)
                sb_warn("voice: callback %s taken, but voice.account_sid and voice.caller_id "
                        "are not configured: the agent dials %s", conv->id,
                        conv->customer_contact);
            else
                sb_outbox_add(hub, "voice", conv->id, 0, conv->customer_contact, "call",
                              "callback", 0, NULL);
        }
        return;
    case SB_ACT_CLOSED:
        sb_channel_conv_forget(hub, conv);
        return;
    default:
        return;     /* a call shows no text: agents' messages stay in the transcript */
    }
}

static int vo_build(sb_hub_t *hub, const sb_outbox_item_t *item, sb_platform_request_t **out,
                    char *err, size_t errlen)
{
    const sb_config_t *cfg = sb_hub_config(hub);

    if (!cfg->channels.voice) {
        snprintf(err, errlen, "channels.voice is no longer configured");
        return SB_EINVAL;
    }
    if (strcmp(item->kind, "call") != 0) {
        snprintf(err, errlen, "voice conversations take no text messages");
        return SB_EINVAL;
    }
    if (!cfg->channels.vo_account_sid || !cfg->channels.vo_caller_id) {
        snprintf(err, errlen, "voice.account_sid and voice.caller_id are needed for callbacks");
        return SB_EINVAL;
    }
    return sb_platform_twilio_call(&cfg->channels, cfg->channels.vo_account_sid,
                                   cfg->channels.vo_caller_id, item->contact_id, NULL, out, err,
                                   errlen);
}

static sb_platform_outcome_t vo_read(sb_hub_t *hub, const sb_outbox_item_t *item, int status,
                                     const char *body, size_t len, char **platform_id,
                                     int *retry_after_s, char *err, size_t errlen)
{
    (void)hub;
    (void)item;
    return sb_platform_read_response(SB_PLATFORM_VOICE, status, body, len, platform_id,
                                     retry_after_s, err, errlen);
}

/* The Calls API placed the callback: its webhooks will name this CallSid. */
static void vo_sent(sb_hub_t *hub, const sb_outbox_item_t *item, const char *platform_id)
{
    char key[96];

    if (strcmp(item->kind, "call") != 0 || !platform_id)
        return;
    call_key(key, sizeof(key), platform_id);
    sb_channel_record(hub, "voice", key, item->conversation_id, 0, sb_hub_now());
    sb_info("voice: callback call %s placed for conversation %s", platform_id,
            item->conversation_id);
}

static bool e164(const char *s)
{
    size_t n = strlen(s);

    if (n < 8 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    for (size_t i = 2; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The last messages of chat as "Name: text" lines, at most EXCERPT_MAX bytes. */
static char *excerpt(const sb_conv_t *chat)
{
    size_t start = chat->nmsgs > 6 ? chat->nmsgs - 6 : 0, n = 0;
    char *out = sb_malloc(EXCERPT_MAX + 1);

    out[0] = '\0';
    for (size_t i = start; i < chat->nmsgs; i++) {
        const sb_message_t *m = &chat->msgs[i];
        int w = snprintf(out + n, EXCERPT_MAX + 1 - n, "%s%s: %s", n ? "\n" : "",
                         m->name ? m->name : sb_from_name(m->from), m->text ? m->text : "");
        if (w < 0 || (size_t)w >= EXCERPT_MAX + 1 - n) {
            n = EXCERPT_MAX;
            break;
        }
        n += (size_t)w;
    }
    /* Do not end inside a UTF-8 sequence. */
    while (n > 0 && ((unsigned char)out[n - 1] & 0xc0) == 0x80)
        n--;
    if (n > 0 && ((unsigned char)out[n - 1] & 0xc0) == 0xc0)
        n--;
    out[n] = '\0';
    return out;
}

int sb_channel_voice_callback(sb_hub_t *hub, sb_conv_t *chat, const char *phone,
                              sb_conv_t **task, char **text)
{
    const sb_config_t *cfg = sb_hub_config(hub);
    sb_conv_spec_t spec;
    json_t *attrs;
    char key[64], *ex;
    sb_conv_t *conv;
    int err = 0;

    *task = NULL;
    *text = NULL;
    if (!phone || !e164(phone))
        return SB_EINVAL;
    if (!cfg->channels.voice || !sb_hub_store_ok(hub))
        return SB_EUNAVAIL;
    snprintf(key, sizeof(key), "callback:%s", chat->id);
    conv = sb_channel_conv_of(hub, "voice", key);
    if (!conv) {
        attrs = chat->attributes && json_is_object(chat->attributes)
                    ? json_deep_copy(chat->attributes) : json_object();
        ex = excerpt(chat);
        json_object_set_new(attrs, "callback_for", json_string(chat->id));
        if (chat->topic >= 0 && (size_t)chat->topic < cfg->ntopics)
            json_object_set_new(attrs, "topic", json_string(cfg->topics[chat->topic].id));
        json_object_set_new(attrs, "callback_phone", json_string(phone));
        if (*ex)
            json_object_set_new(attrs, "chat_excerpt", json_string(ex));
        free(ex);
        memset(&spec, 0, sizeof(spec));
        spec.channel = "voice";
        spec.media = SB_MEDIA_VOICE;
        spec.name = chat->customer_name;
        spec.email = chat->customer_email;
        spec.contact = phone;
        spec.language = cfg->languages[chat->language];
        spec.pool = cfg->channels.vo_pool;
        spec.attributes = attrs;
        conv = sb_channel_conv_open(hub, &spec, key, NULL, &err);
        json_decref(attrs);
        if (!conv)
            return err < 0 ? err : SB_EINVAL;
        sb_info("voice: callback to %s requested in conversation %s -> voice task %s",
                phone, chat->id, conv->id);
    }
    *task = conv;
    *text = fill(sb_config_template(cfg, chat->language, SB_TPL_CALLBACK), "{phone}", phone);
    return 0;
}

const sb_channel_methods_t sb_channel_voice = {
    .name = "voice",
    .http_path = "/v1/webhooks/voice",
    .on_http = vo_http,
    .deliver = vo_deliver,
    .build_request = vo_build,
    .read_response = vo_read,
    .sent = vo_sent,
};
