/*
 * channel.h - a channel adapter: outside formats in, outside formats out.
 *
 * Each channel fills one sb_channel_methods_t (a new channel is a new file in
 * channels/, listed in router/hub/channels.c). The hub hands it:
 *   - the frames of its WebSocket endpoint, if it has one (web chat: the
 *     customer endpoint; connectors),
 *   - the HTTP requests of its webhook endpoint, if it has one (platforms),
 *   - the customer-facing actions of its conversations (messages from agents,
 *     queue position, agent joined, transferring, closed) to deliver in the
 *     channel's own format,
 *   - the items of the durable outbox that are due, when the channel sends
 *     them over HTTP (build_request / read_response).
 * Adapters never decide routing: they turn input into core events.
 *
 * Below the methods struct are the services the hub offers adapters: the
 * HTTP exchange of a webhook, inbound deduplication and the conversation of
 * a contact, and the durable outbox (docs/channels.md, "Wiring").
 */
#ifndef SWITCHBOARD_CHANNEL_H
#define SWITCHBOARD_CHANNEL_H

#include "switchboard/hub.h"
#include "switchboard/platform.h"

typedef struct sb_http_exchange sb_http_exchange_t;
typedef struct sb_outbox_item sb_outbox_item_t;

typedef struct sb_channel_methods {
    const char *name;                 /* conv->channel, e.g. "webchat" */
    const char *ws_path;              /* WebSocket endpoint or NULL */
    sb_session_kind_t session_kind;

    /* A WebSocket session opened on ws_path. 0, or <0 to refuse it. */
    int  (*on_open)(sb_session_t *s);
    /* One valid JSON object frame with a string "type"; ref may be NULL.
     * The adapter replies (ok/error) itself. Borrowed frame. */
    void (*on_frame)(sb_session_t *s, json_t *frame, const char *type, const char *ref);
    /* Optional: the hot request read without a jansson tree (sb_codec_scan).
     * true when the adapter took it (and replied); false, having changed
     * nothing, to have it parsed and given to on_frame instead (every error
     * is said there). */
    bool (*on_flat)(sb_session_t *s, const sb_flat_t *frame);
    /* The session is going away; drop every reference to it. */
    void (*on_close)(sb_session_t *s);

    /* Deliver one customer-facing action of a conversation of this channel
     * (SB_ACT_MESSAGE from agent/bot/system, QUEUE, AGENT_JOINED,
     * TRANSFERRING, CLOSED). */
    void (*deliver)(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act);
    /* The agent is typing (or stopped); NULL when the channel cannot show it. */
    void (*typing)(sb_hub_t *hub, sb_conv_t *conv, bool on);

    /* --- added with the platform channels and connectors ----------------- */

    /* Webhook endpoint (exact path) or NULL. */
    const char *http_path;
    /* One request on http_path with its whole body (bounded by the hub:
     * larger bodies are answered 413 before this is called). The adapter
     * answers with sb_http_reply; the answer goes out once what the request
     * wrote is committed (503 instead when that commit fails). */
    void (*on_http)(sb_http_exchange_t *x);

    /* After recovery, before the loop serves (rebuild state from the core
     * and the store); and when the hub goes away. Either may be NULL. */
    void (*start)(sb_hub_t *hub);
    void (*stop)(sb_hub_t *hub);

    /* Outbox items of this channel are sent over HTTP when build_request is
     * set: it builds the request for a due item from the configuration as
     * it is now (*out new; SB_EINVAL/SB_ETOOLARGE with err: the item fails
     * for good), and read_response reads the platform's answer (see
     * sb_platform_read_response). Without build_request, items wait for the
     * adapter to report them delivered (connectors). */
    int  (*build_request)(sb_hub_t *hub, const sb_outbox_item_t *item,
                          sb_platform_request_t **out, char *err, size_t errlen);
    sb_platform_outcome_t (*read_response)(sb_hub_t *hub, const sb_outbox_item_t *item,
                                           int http_status, const char *body, size_t len,
                                           char **platform_id, int *retry_after_s,
                                           char *err, size_t errlen);
    /* The platform accepted an item (platform_id may be NULL). May be NULL. */
    void (*sent)(sb_hub_t *hub, const sb_outbox_item_t *item, const char *platform_id);
} sb_channel_methods_t;

extern const sb_channel_methods_t sb_channel_webchat;
extern const sb_channel_methods_t sb_channel_whatsapp;
extern const sb_channel_methods_t sb_channel_messenger;
extern const sb_channel_methods_t sb_channel_telegram;
extern const sb_channel_methods_t sb_channel_voice;
extern const sb_channel_methods_t sb_channel_connector;

/* The adapter for a channel name, or NULL. A name no built-in adapter has
 * is a connector's channel ("line"): the connector adapter. */
const sb_channel_methods_t *sb_channel_find(const char *name);
/* The adapter serving a WebSocket path, or NULL. */
const sb_channel_methods_t *sb_channel_for_path(const char *path);
/* The adapter serving a webhook path, or NULL. */
const sb_channel_methods_t *sb_channel_for_http(const char *path);

/* ---------------------------------------------------------------------- */
/* Webhooks: one HTTP request and its answer                              */
/* ---------------------------------------------------------------------- */

sb_hub_t *sb_http_hub(const sb_http_exchange_t *x);
/* "GET", "POST" or "OTHER". */
const char *sb_http_method(const sb_http_exchange_t *x);
/* The path, and the raw query string without '?' ("" when none). */
const char *sb_http_path(const sb_http_exchange_t *x);
const char *sb_http_query(const sb_http_exchange_t *x);
/* The raw body (NUL-terminated for convenience; may hold NULs); *len its size. */
const char *sb_http_body(const sb_http_exchange_t *x, size_t *len);
/* A request header by lowercase name without ':' ("x-hub-signature-256",
 * "content-type"): its length, with the value copied into buf (truncated to
 * len - 1 and NUL-terminated), or -1 when absent. */
int sb_http_header(const sb_http_exchange_t *x, const char *name, char *buf, size_t len);
/* The media type of Content-Type, lowercased, without parameters. Never fails
 * ("" when absent). */
void sb_http_content_type(const sb_http_exchange_t *x, char *buf, size_t len);
/* The answer. body is copied; the last call wins. */
void sb_http_reply(sb_http_exchange_t *x, int status, const char *content_type,
                   const char *body, size_t len);
/* {"error":code,"message":message} as application/json. */
void sb_http_reply_error(sb_http_exchange_t *x, int status, const char *code,
                         const char *message);

/* ---------------------------------------------------------------------- */
/* Inbound: deduplication and the conversation of a contact               */
/* ---------------------------------------------------------------------- */

/* What (channel, external_id) became the first time it came: 0 with conv_id
 * and *seq, SB_ENOTFOUND when it is new, SB_E* when the store cannot say. */
int sb_channel_seen(sb_hub_t *hub, const char *channel, const char *external_id,
                    char conv_id[40], uint64_t *seq);
/* Records it in the turn's transaction. 0 or SB_E*. */
int sb_channel_record(sb_hub_t *hub, const char *channel, const char *external_id,
                      const char *conv_id, uint64_t seq, sb_ms_t ts);

/* The open conversation of a contact on a channel (one at a time), from the
 * hub's map or, after a restart, the store; NULL when there is none. key
 * NULL means the contact id itself. */
sb_conv_t *sb_channel_conv_of(sb_hub_t *hub, const char *channel, const char *key);
/* Opens a conversation with a fresh id for spec (spec->id is ignored) and
 * remembers it as the one of (spec->channel, key or spec->contact). first_text
 * (may be NULL) is the customer's first text, from which the core guesses an
 * undeclared language (spec->language NULL; routing.detect_language). NULL
 * with *err on failure. */
sb_conv_t *sb_channel_conv_open(sb_hub_t *hub, const sb_conv_spec_t *spec, const char *key,
                                const char *first_text, int *err);
/* Forgets conv as the open conversation of its contact (it closed). */
void sb_channel_conv_forget(sb_hub_t *hub, const sb_conv_t *conv);

/* One customer message from a platform or connector. */
typedef struct sb_channel_inbound {
    const char *channel;       /* required */
    const char *contact_id;    /* required */
    const char *contact_name, *language;  /* may be NULL */
    const char *external_id;   /* required: the deduplication key */
    const char *text;          /* required */
    int pool;                  /* for a new conversation; -1: default_pool */
    json_t *attributes;        /* for a new conversation; borrowed; may be NULL */
    sb_ms_t ts;                /* the platform's time, 0 when unknown */
} sb_channel_inbound_t;

typedef struct sb_channel_result {
    sb_conv_t *conv;           /* NULL when a duplicate's conversation has closed */
    char conv_id[40];
    uint64_t seq;              /* the message's seq (the first one's, for a duplicate) */
    bool duplicate;            /* external_id was seen before: nothing changed */
    bool opened;               /* a new conversation was opened for it */
} sb_channel_result_t;

/*
 * Deduplicates by external_id, finds the contact's open conversation or
 * opens one (routed: assigned or queued), and adds the message; the caller
 * drains. 0 with *out, or SB_EUNAVAIL when the store cannot write or be
 * read (nothing changed), SB_EINVAL when the core refuses.
 */
int sb_channel_inbound(sb_hub_t *hub, const sb_channel_inbound_t *in, sb_channel_result_t *out);

/* Sends obj to the agent that holds conv (assigned), if connected. Takes
 * ownership of obj. */
void sb_channel_to_agent(sb_conv_t *conv, json_t *obj);

/* True the first time it is asked for (conv, what), until conv is forgotten
 * (sb_channel_conv_forget): a notice sent once per conversation. */
bool sb_channel_first(sb_hub_t *hub, const sb_conv_t *conv, const char *what);

/* The adapter's own per-hub state: a slot, NULL until the adapter sets it.
 * The adapter frees what it put there in its stop method. */
void **sb_channel_state(sb_hub_t *hub, const sb_channel_methods_t *adapter);

/* The customer of web chat conversation chat asks to be called back at phone
 * (E.164): a voice task for the voice pool, with the chat's context (its
 * customer and language; its attributes, plus callback_for (the chat's id),
 * callback_phone, topic (the chat's topic id, as context: its skill
 * requirements do not apply) and chat_excerpt (the last messages)). Asking again while that task is open gives the
 * same task. On success *task is the task and *text (new string) the
 * localized "callback" notice for the customer. SB_EINVAL for a phone that is
 * not E.164, SB_EUNAVAIL when the voice channel is not configured or the store
 * cannot write. (channels/voice/voice.c) */
int sb_channel_voice_callback(sb_hub_t *hub, sb_conv_t *chat, const char *phone,
                              sb_conv_t **task, char **text);

/* ---------------------------------------------------------------------- */
/* The durable outbox                                                     */
/* ---------------------------------------------------------------------- */

/* One outgoing message, as the adapters see it (read-only). */
struct sb_outbox_item {
    int64_t id;                /* also the connectors' delivery_id */
    char channel[24];
    char conversation_id[40];
    uint64_t seq;              /* transcript seq, 0 for a notice */
    int part;                  /* piece of a message split for the platform */
    char kind[8];              /* "message" or "call" */
    char *contact_id;
    char *text;
    int attempts;
    sb_ms_t created_at, next_attempt_at;
};

/*
 * Stores one outgoing message for conv's customer (contact_id) in the turn's
 * transaction; it is sent only once that commits. A text longer than
 * max_chars code points (0: no limit) is split into parts at character
 * boundaries (preferring spaces and line breaks). Retries with exponential
 * backoff and jitter, at most channels.outbox_concurrency requests in flight
 * per channel, one at a time per conversation and in order; gives up after
 * channels.outbox_max_age_s. Agents get {"type":"delivery"} events for
 * messages with a seq. *first_id (may be NULL) gets the first part's id.
 * 0 or SB_E* (the item stays: a write the commit loses is written again).
 */
int sb_outbox_add(sb_hub_t *hub, const char *channel, const char *conv_id, uint64_t seq,
                  const char *contact_id, const char *kind, const char *text,
                  size_t max_chars, int64_t *first_id);
/* A platform's delivery report (see sb_store_outbox_mark): state "sent",
 * "delivered", "read" or "failed" (reason: the platform's words). 0 or SB_E*. */
int sb_outbox_report(sb_hub_t *hub, const char *channel, const char *platform_id,
                     const char *contact_id, sb_ms_t upto, const char *state,
                     const char *reason);
/* A connector acknowledged item id of one of channels (NULL-terminated list of
 * the channels it carries). 0 (also when it was acknowledged already),
 * SB_ENOTFOUND when no such item of those channels waits, or SB_E*. */
int sb_outbox_delivered(sb_hub_t *hub, int64_t id, const char *const *channels);
/* Calls fn for every item of channel still waiting to be delivered, in
 * order. fn must not add or remove items. */
void sb_outbox_each(sb_hub_t *hub, const char *channel,
                    void (*fn)(const sb_outbox_item_t *item, void *arg), void *arg);

#endif
