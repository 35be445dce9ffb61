/*
 * social.c - the webhook endpoint and the delivery of the chat platform
 * adapters (WhatsApp, Messenger, Telegram; docs/channels.md).
 *
 * A webhook is checked in this order, and each refusal is logged and
 * changes nothing: the channel is configured (else 404), the method (GET is
 * the verify handshake where the platform has one, else 405), the content
 * type is JSON (415), the platform's signature or secret (401 missing, 403
 * wrong), the store can write (503: the platform sends it again later), the
 * payload parses (400: it never will). Then every event: a customer text
 * becomes a message in the contact's conversation (stored once per platform
 * message id), a status becomes the delivery state of our message, anything
 * else is logged and acknowledged. The answer is 200 once that is durable.
 *
 * Delivery: agents', bots' and system messages go to the durable outbox, and
 * so do the notices a customer on a messaging app should see as text: agent
 * joined, transferring, closed, and the first queue position of the
 * conversation (later position updates are not sent: one message per change
 * would flood the customer's phone).
 */
#include "social.h"

#include <stdio.h>
#include <string.h>

#define SIGNATURE_MAX 200

bool social__via_connector(const sb_conv_t *conv)
{
    return conv->attributes && json_is_string(json_object_get(conv->attributes, "connector"));
}

int social__check_hub_signature(sb_http_exchange_t *x, const char *secret, const char *body,
                                size_t len, char *err, size_t errlen)
{
    char sig[SIGNATURE_MAX];

    if (sb_http_header(x, "x-hub-signature-256", sig, sizeof(sig)) < 0 || !sig[0]) {
        snprintf(err, errlen, "no X-Hub-Signature-256 header");
        return 401;
    }
    if (sb_platform_check_hub_signature(secret, body, len, sig) < 0) {
        snprintf(err, errlen, "X-Hub-Signature-256 does not match the body");
        return 403;
    }
    return 0;
}

static void handshake(sb_http_exchange_t *x, const social_platform_t *sp,
                      const sb_config_t *cfg)
{
    const char *token = sp->verify_token ? sp->verify_token(cfg) : NULL;
    const char *query = sb_http_query(x);
    char *challenge = NULL, err[200];
    int rc;

    if (!token) {
        sb_http_reply_error(x, 405, "bad_request", "use POST");
        return;
    }
    rc = sb_platform_verify_handshake(token, query, strlen(query), &challenge, err,
                                      sizeof(err));
    if (rc == 0) {
        sb_info("%s: webhook verified (subscribe handshake)", sp->name);
        sb_http_reply(x, 200, "text/plain", challenge, strlen(challenge));
        free(challenge);
        return;
    }
    sb_warn("%s: verify handshake refused: %s", sp->name, err);
    if (rc == SB_EFORBIDDEN)
        sb_http_reply_error(x, 403, "forbidden", "wrong hub.verify_token");
    else
        sb_http_reply_error(x, 400, "bad_request", err);
}

/* A customer's text: into the contact's conversation, once. */
static int on_message(sb_hub_t *hub, const social_platform_t *sp, const sb_config_t *cfg,
                      const sb_platform_event_t *ev, int *dups)
{
    sb_channel_inbound_t in;
    sb_channel_result_t res;
    int rc;

    memset(&in, 0, sizeof(in));
    in.channel = sp->name;
    in.contact_id = ev->contact_id;
    in.contact_name = ev->contact_name;
    in.language = ev->language;
    in.external_id = ev->external_id;
    in.text = ev->text ? ev->text : "";
    in.pool = sp->pool(cfg);
    in.ts = ev->ts;
    if (!*in.text) {
        sb_info("%s: empty message %s from %s ignored", sp->name, ev->external_id,
                ev->contact_id);
        return 0;
    }
    rc = sb_channel_inbound(hub, &in, &res);
    sb_hub_drain(hub);
    if (rc < 0) {
        sb_warn("%s: message %s from %s not taken: %s", sp->name, ev->external_id,
                ev->contact_id, sb_strerror(rc));
        /* Only what may work later is worth the platform's retry. */
        return rc == SB_EUNAVAIL || rc == SB_EIO || rc == SB_ENOMEM ? rc : 0;
    }
    if (res.duplicate) {
        (*dups)++;
        sb_info("%s: message %s again (a platform retry): already seq %llu of %s", sp->name,
                ev->external_id, (unsigned long long)res.seq, res.conv_id);
    } else {
        sb_debug("%s: message %s -> conversation %s seq %llu%s", sp->name, ev->external_id,
                 res.conv_id, (unsigned long long)res.seq, res.opened ? " (new)" : "");
    }
    return 0;
}

void social__on_http(sb_http_exchange_t *x, const social_platform_t *sp)
{
    sb_hub_t *hub = sb_http_hub(x);
    const sb_config_t *cfg = sb_hub_config(hub);
    const char *method = sb_http_method(x), *body;
    sb_platform_events_t *events;
    char ctype[64], err[300];
    size_t len;
    int status, messages = 0, dups = 0, statuses = 0, ignored = 0, failed = 0;
    json_t *summary;
    char *text;

    if (!sp->configured(cfg)) {
        sb_warn("%s: webhook called but channels.%s is not configured", sp->name, sp->name);
        sb_http_reply_error(x, 404, "not_found", "this channel is not configured");
        return;
    }
    if (strcmp(method, "GET") == 0) {
        handshake(x, sp, cfg);
        return;
    }
    if (strcmp(method, "POST") != 0) {
        sb_http_reply_error(x, 405, "bad_request", "use POST");
        return;
    }
    sb_http_content_type(x, ctype, sizeof(ctype));
    if (strcmp(ctype, "application/json") != 0) {
        sb_warn("%s: webhook refused: content type \"%s\", not application/json", sp->name,
                ctype);
        sb_http_reply_error(x, 415, "bad_request", "send application/json");
        return;
    }
    body = sb_http_body(x, &len);
    status = sp->check(x, cfg, body, len, err, sizeof(err));
    if (status) {
        sb_warn("%s: webhook refused (%d): %s", sp->name, status, err);
        sb_http_reply_error(x, status, status == 401 ? "unauthorized" : "forbidden", err);
        return;
    }
    if (!sb_hub_store_ok(hub)) {
        sb_warn("%s: webhook refused (503): the store cannot write; the platform will retry",
                sp->name);
        sb_http_reply_error(x, 503, "unavailable", "the store cannot write right now");
        return;
    }
    events = sb_platform_events_new();
    if (sp->parse(body, len, events, err, sizeof(err)) < 0) {
        sb_warn("%s: webhook payload refused (400): %s", sp->name, err);
        sb_platform_events_free(events);
        sb_http_reply_error(x, 400, "bad_request", err);
        return;
    }
    for (size_t i = 0; i < events->n; i++) {
        const sb_platform_event_t *ev = &events->items[i];
        switch (ev->kind) {
        case SB_PLATFORM_EV_MESSAGE:
            if (on_message(hub, sp, cfg, ev, &dups) < 0)
                failed++;
            else
                messages++;
            break;
        case SB_PLATFORM_EV_STATUS:
            statuses++;
            if (sb_outbox_report(hub, sp->name, ev->ref_id, ev->contact_id, ev->ts,
                                 ev->status, ev->reason) < 0)
                failed++;
            sb_hub_drain(hub);
            break;
        default:
            ignored++;
            sb_info("%s: %s %s ignored (%s)", sp->name, sb_platform_event_kind_name(ev->kind),
                    ev->external_id, ev->reason ? ev->reason : "not handled");
            break;
        }
    }
    sb_platform_events_free(events);
    if (failed) {
        /* The platform sends the whole body again; what was taken is deduplicated. */
        sb_http_reply_error(x, 503, "unavailable",
                            "some events could not be stored; send them again later");
        return;
    }
    summary = json_pack("{s:s,s:i,s:i,s:i,s:i}", "status", "ok", "messages", messages,
                        "duplicates", dups, "statuses", statuses, "ignored", ignored);
    text = json_dumps(summary, JSON_COMPACT);
    sb_http_reply(x, 200, "application/json", text, strlen(text));
    free(text);
    json_decref(summary);
}

static void notice(sb_hub_t *hub, sb_conv_t *conv, const char *text,
                   const social_platform_t *sp)
{
    if (text && *text)
        sb_outbox_add(hub, conv->channel, conv->id, 0, conv->customer_contact, "message",
                      text, sp->max_chars, NULL);
}

void social__deliver(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act,
                     const social_platform_t *sp)
{
    if (social__via_connector(conv)) {
        sb_channel_connector.deliver(hub, conv, act);
        return;
    }
    if (!conv->customer_contact)
        return;
    switch (act->kind) {
    case SB_ACT_MESSAGE: {
        const sb_message_t *m = &conv->msgs[act->index];
        if (m->from == SB_FROM_CUSTOMER || !m->text || !*m->text)
            return;
        sb_outbox_add(hub, conv->channel, conv->id, m->seq, conv->customer_contact,
                      "message", m->text, sp->max_chars, NULL);
        return;
    }
    case SB_ACT_QUEUE:
        if (sb_channel_first(hub, conv, "queue"))
            notice(hub, conv, act->text, sp);
        return;
    case SB_ACT_AGENT_JOINED:
    case SB_ACT_TRANSFERRING:
        notice(hub, conv, act->text, sp);
        return;
    case SB_ACT_CLOSED:
        notice(hub, conv, act->text, sp);
        sb_channel_conv_forget(hub, conv);
        return;
    default:
        return;
    }
}

int social__build_request(sb_hub_t *hub, const sb_outbox_item_t *item,
                          sb_platform_request_t **out, char *err, size_t errlen,
                          const social_platform_t *sp)
{
    const sb_config_t *cfg = sb_hub_config(hub);

    if (!sp->configured(cfg)) {
        snprintf(err, errlen, "channels.%s is no longer configured", sp->name);
        return SB_EINVAL;
    }
    return sb_platform_send_request(&cfg->channels, sp->platform, item->contact_id,
                                    item->text, out, err, errlen);
}

sb_platform_outcome_t social__read_response(const sb_outbox_item_t *item, int http_status,
                                            const char *body, size_t len, char **platform_id,
                                            int *retry_after_s, char *err, size_t errlen,
                                            const social_platform_t *sp)
{
    (void)item;
    return sb_platform_read_response(sp->platform, http_status, body, len, platform_id,
                                     retry_after_s, err, errlen);
}
