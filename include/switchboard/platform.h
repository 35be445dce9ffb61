/*
 * platform.h - the pure layer of the platform channel adapters: WhatsApp
 * Cloud API, Messenger Platform, Telegram Bot API and Twilio-style voice
 * (protocol.md section 6; docs/channels.md describes each platform).
 *
 * Three jobs, none of which touches a socket, a clock or the store:
 *   - checking that a webhook comes from its platform (signatures, shared
 *     secrets, the GET verify handshake);
 *   - turning the platforms' own payloads into normalized inbound events;
 *   - building the outbound HTTP requests for the platforms' send APIs (and
 *     TwiML answers), and reading the platforms' answers to them.
 * The hub wires these into its webhook endpoints and its outbox.
 *
 * Bodies are untrusted: every parser validates what it reads, fails with
 * SB_EINVAL and a message naming the field ("entry[0].changes[0].value.
 * messages[1].from: missing"), never crashes and leaves nothing allocated
 * behind on failure. Every comparison against a secret is constant-time.
 *
 * Ownership: every char * in a struct below is owned by that struct and freed
 * by its _free function; every _free function accepts NULL. "err" buffers may
 * be NULL (errlen 0); when given they are always NUL-terminated.
 */
#ifndef SWITCHBOARD_PLATFORM_H
#define SWITCHBOARD_PLATFORM_H

#include "switchboard/common.h"
#include "switchboard/config.h"

typedef enum {
    SB_PLATFORM_WHATSAPP,
    SB_PLATFORM_MESSENGER,
    SB_PLATFORM_TELEGRAM,
    SB_PLATFORM_VOICE,
} sb_platform_t;

/* The channel name of a platform ("whatsapp", "messenger", "telegram",
 * "voice"): the conversation's channel in protocol.md section 4. Static. */
const char *sb_platform_name(sb_platform_t platform);

/* ---------------------------------------------------------------------- */
/* Form and query strings (application/x-www-form-urlencoded)             */
/* ---------------------------------------------------------------------- */

typedef struct sb_platform_param {
    char *name;
    char *value;
} sb_platform_param_t;

/* Name/value pairs in the order they came; a name may repeat. */
typedef struct sb_platform_params {
    sb_platform_param_t *items;
    size_t n, cap;
} sb_platform_params_t;

/* An empty list. Never fails (allocation failure aborts, see common.h). */
sb_platform_params_t *sb_platform_params_new(void);
/* Appends copies of name and value. Never fails. */
void sb_platform_params_add(sb_platform_params_t *params, const char *name, const char *value);
/* The value of the first pair named name (borrowed), or NULL. */
const char *sb_platform_params_get(const sb_platform_params_t *params, const char *name);
void sb_platform_params_free(sb_platform_params_t *params);

/*
 * Decodes a form body or a query string of len bytes (one leading '?' is
 * skipped): pairs split on '&', name and value on the first '=', '+' is a
 * space, %XX a byte. Empty pieces ("a=1&&b=2") are skipped; a piece without
 * '=' is a name with an empty value. On success returns 0 and *out a new list
 * (empty for an empty string). Returns SB_EINVAL with err when an escape is
 * malformed, decodes to NUL, or there are more than 1000 pairs.
 */
int sb_platform_form_parse(const char *s, size_t len, sb_platform_params_t **out,
                           char *err, size_t errlen);

/* ---------------------------------------------------------------------- */
/* Is this webhook from the platform?                                      */
/* ---------------------------------------------------------------------- */

/*
 * X-Hub-Signature-256 (WhatsApp Cloud API and Messenger): "sha256=" and the
 * lowercase hex HMAC-SHA256 of the raw body, keyed with the app secret.
 * Returns 0 when header is exactly that, else SB_EAUTH (also for a NULL or
 * empty header, and for a NULL or empty app_secret: an unconfigured secret
 * never accepts anything). body may be NULL when len is 0.
 */
int sb_platform_check_hub_signature(const char *app_secret, const void *body, size_t len,
                                    const char *header);
/* The header value a body should carry: "sha256=<64 hex>" into out. For
 * tests and test clients. Never fails. */
void sb_platform_hub_signature(const char *app_secret, const void *body, size_t len,
                               char out[72]);

/*
 * X-Telegram-Bot-Api-Secret-Token: equal to the secret_token given to
 * setWebhook. Compares SHA-256 digests in constant time, so the time taken
 * does not depend on where or whether the lengths differ. 0, or SB_EAUTH
 * (also for a NULL/empty header or secret).
 */
int sb_platform_check_telegram_secret(const char *secret_token, const char *header);

/*
 * X-Twilio-Signature: base64 of HMAC-SHA1 keyed with the auth token over the
 * full URL Twilio requested (scheme, host, path and query, exactly as
 * configured at Twilio) followed by every POST parameter, sorted by name
 * (byte order; equal names by value), as name then value with no separators.
 * params are the decoded POST parameters (NULL or empty for a GET).
 * 0, or SB_EAUTH (also for a NULL/empty header, token or url).
 */
int sb_platform_check_twilio_signature(const char *auth_token, const char *url,
                                       const sb_platform_params_t *params, const char *header);
/* The signature itself (28 base64 characters + NUL) into out. Never fails. */
void sb_platform_twilio_signature(const char *auth_token, const char *url,
                                  const sb_platform_params_t *params, char out[29]);

/*
 * The GET verify handshake of WhatsApp and Messenger webhooks: query is the
 * request's query string ("hub.mode=subscribe&hub.verify_token=...&
 * hub.challenge=..."). On success returns 0 and *challenge (new string) is
 * the text to answer with 200 (as text/plain). Returns SB_EINVAL (answer 400)
 * when the query is malformed, a parameter is missing, hub.mode is not
 * "subscribe" or the challenge is not 1-128 characters of [A-Za-z0-9._~-];
 * SB_EFORBIDDEN (answer 403) when the token is wrong or verify_token is
 * NULL/empty. The token comparison is constant-time.
 */
int sb_platform_verify_handshake(const char *verify_token, const char *query, size_t len,
                                 char **challenge, char *err, size_t errlen);

/* ---------------------------------------------------------------------- */
/* Inbound: platform payloads to normalized events                         */
/* ---------------------------------------------------------------------- */

typedef enum {
    SB_PLATFORM_EV_MESSAGE,     /* a customer's text message */
    SB_PLATFORM_EV_STATUS,      /* what became of one of our outbound messages */
    SB_PLATFORM_EV_CALL,        /* a call is queued, ringing or in progress */
    SB_PLATFORM_EV_CALL_ENDED,  /* a call ended: completed, busy, failed, no-answer, canceled */
    SB_PLATFORM_EV_IGNORED,     /* something the router does not handle; reason says what */
} sb_platform_event_kind_t;

/* "message", "status", "call", "call_ended", "ignored". Static. */
const char *sb_platform_event_kind_name(sb_platform_event_kind_t kind);

/*
 * One normalized event. Which members are set depends on kind and platform;
 * docs/channels.md has the table. Every string may be NULL unless said.
 */
typedef struct sb_platform_event {
    sb_platform_event_kind_t kind;
    sb_platform_t platform;
    const char *channel;       /* sb_platform_name(platform); static, never NULL */

    char *contact_id;          /* the customer: WhatsApp wa_id, Messenger PSID,
                                  Telegram chat id (decimal, may be negative),
                                  voice: the caller's number (the callee's on
                                  outbound calls). NULL only for IGNORED events
                                  that name no customer. */
    char *contact_name;        /* display name when the platform gives one */
    char *language;            /* BCP 47 tag when the platform gives one (Telegram) */
    char *business_id;         /* our side: WhatsApp phone_number_id, Messenger page
                                  id, voice: our number */
    char *external_id;         /* stable id of this event, the same each time the
                                  platform redelivers it: the dedup key (see
                                  docs/channels.md). Never NULL. */
    char *text;                /* MESSAGE: the text (UTF-8, may be empty) */
    sb_ms_t ts;                /* the platform's time of the event, ms since the
                                  epoch; 0 when the payload has none */

    char *status;              /* STATUS: "sent" | "delivered" | "read" | "failed";
                                  CALL, CALL_ENDED: Twilio's CallStatus */
    char *ref_id;              /* STATUS: the platform id of our outbound message
                                  (NULL for Messenger watermarks: then every message
                                  to contact_id up to ts); voice: the CallSid */
    char *reason;              /* IGNORED: what ("image", "edited_message",
                                  "echo", "field:account_update", ...);
                                  STATUS failed: the platform's error;
                                  CALL_ENDED: the CallStatus */

    char *direction;           /* voice: "inbound", "outbound-api", "outbound-dial" */
    char *account_id;          /* voice: the AccountSid of the webhook */
    int duration_s;            /* CALL_ENDED: CallDuration; -1 when absent */
} sb_platform_event_t;

/* A growable list of events. */
typedef struct sb_platform_events {
    sb_platform_event_t *items;
    size_t n, cap;
} sb_platform_events_t;

/* An empty list. Never fails. */
sb_platform_events_t *sb_platform_events_new(void);
void sb_platform_events_free(sb_platform_events_t *events);

/*
 * The parsers. Each appends the events of one webhook body (0..n of them) to
 * out and returns 0, or returns SB_EINVAL with err naming what is wrong and
 * leaves out as it was (nothing appended, nothing leaked). body is the raw
 * body of len bytes, not NUL-terminated. Duplicates are the caller's job
 * (external_id is stable across redeliveries).
 */

/* WhatsApp Cloud API: {"object":"whatsapp_business_account","entry":[...]}. */
int sb_platform_parse_whatsapp(const char *body, size_t len, sb_platform_events_t *out,
                               char *err, size_t errlen);
/* Messenger Platform: {"object":"page","entry":[{"messaging":[...]}]}. */
int sb_platform_parse_messenger(const char *body, size_t len, sb_platform_events_t *out,
                                char *err, size_t errlen);
/* Telegram Bot API: one Update object. */
int sb_platform_parse_telegram(const char *body, size_t len, sb_platform_events_t *out,
                               char *err, size_t errlen);
/* Twilio voice webhooks and status callbacks: the decoded form parameters
 * (the same list the signature was checked over). */
int sb_platform_parse_voice(const sb_platform_params_t *params, sb_platform_events_t *out,
                            char *err, size_t errlen);

/* ---------------------------------------------------------------------- */
/* Outbound: requests to the platforms' APIs                               */
/* ---------------------------------------------------------------------- */

typedef struct sb_platform_header {
    char *name;
    char *value;
} sb_platform_header_t;

/* One HTTP request, ready for an HTTP client. */
typedef struct sb_platform_request {
    char *method;                   /* "POST" */
    char *url;                      /* absolute; may carry a secret (Messenger's
                                       access_token): never log it */
    sb_platform_header_t *headers;  /* Content-Type first */
    size_t nheaders;
    char *body;                     /* NUL-terminated */
    size_t body_len;
} sb_platform_request_t;

void sb_platform_request_free(sb_platform_request_t *req);

/*
 * Text message requests. contact_id is an event's contact_id; text is UTF-8.
 * The configured api_base is used as given, without a trailing '/' (when NULL:
 * https://graph.facebook.com/v21.0, https://api.telegram.org).
 * On success returns 0 and *out a new request. Fails with err:
 *   SB_EINVAL     channel not configured or lacking a credential; contact_id
 *                 empty or not valid for the platform (Telegram: an int64);
 *                 text empty or not valid UTF-8;
 *   SB_ETOOLARGE  text longer than the platform takes (WhatsApp and Telegram
 *                 4096 characters, Messenger 2000).
 *
 * WhatsApp:  POST {api_base}/{phone_number_id}/messages, Bearer access token,
 *            {"messaging_product":"whatsapp","recipient_type":"individual",
 *             "to":...,"type":"text","text":{"preview_url":false,"body":...}}
 * Messenger: POST {api_base}/me/messages?access_token={page_access_token},
 *            {"recipient":{"id":...},"messaging_type":"RESPONSE","message":{"text":...}}
 * Telegram:  POST {api_base}/bot{bot_token}/sendMessage, {"chat_id":<int>,"text":...}
 */
int sb_platform_whatsapp_send(const sb_cfg_channels_t *ch, const char *contact_id,
                              const char *text, sb_platform_request_t **out,
                              char *err, size_t errlen);
int sb_platform_messenger_send(const sb_cfg_channels_t *ch, const char *contact_id,
                               const char *text, sb_platform_request_t **out,
                               char *err, size_t errlen);
int sb_platform_telegram_send(const sb_cfg_channels_t *ch, const char *contact_id,
                              const char *text, sb_platform_request_t **out,
                              char *err, size_t errlen);
/* One of the three above by platform; SB_EINVAL for SB_PLATFORM_VOICE. */
int sb_platform_send_request(const sb_cfg_channels_t *ch, sb_platform_t platform,
                             const char *contact_id, const char *text,
                             sb_platform_request_t **out, char *err, size_t errlen);

/*
 * The TwiML answer to an inbound call: say text (when non-empty) in language
 * (BCP 47, omitted when NULL/empty), then put the caller in the queue named
 * queue, with waitUrl when wait_url is non-empty:
 *   <?xml version="1.0" encoding="UTF-8"?><Response><Say language="es">...</Say>
 *   <Enqueue waitUrl="...">queue</Enqueue></Response>   (on one line)
 * Text and attributes are XML-escaped; control characters XML does not allow
 * become spaces. Returns a new string, or NULL when queue is NULL or empty.
 */
char *sb_platform_twiml_enqueue(const char *language, const char *say, const char *queue,
                                const char *wait_url);
/* <Response><Say ...>text</Say><Hangup/></Response>: for calls the router
 * cannot take. Returns a new string; never fails. */
char *sb_platform_twiml_say_hangup(const char *language, const char *say);

/*
 * A callback call through the Twilio Calls API:
 *   POST {api_base}/2010-04-01/Accounts/{account_sid}/Calls.json
 *   Authorization: Basic base64(account_sid:auth_token)
 *   To={to}&From={from}&Url={url}&StatusCallback={url}&Method=POST ...
 * url is where Twilio fetches TwiML when the call is answered; NULL means
 * {public_url}/v1/webhooks/voice, which also receives the status callbacks.
 * The configuration has no account SID nor caller id (docs/channels.md):
 * account_sid ("AC" + 32 hex digits, e.g. from an inbound webhook's
 * AccountSid) and from (E.164) are passed in. to is E.164 ("+15551234567").
 * 0 and *out a new request, or SB_EINVAL with err.
 */
int sb_platform_twilio_call(const sb_cfg_channels_t *ch, const char *account_sid,
                            const char *from, const char *to, const char *url,
                            sb_platform_request_t **out, char *err, size_t errlen);

/* ---------------------------------------------------------------------- */
/* The platforms' answers                                                  */
/* ---------------------------------------------------------------------- */

typedef enum {
    SB_PLATFORM_SENT,       /* accepted by the platform */
    SB_PLATFORM_RETRY,      /* try again later: network, 408, 429, 5xx, rate limits */
    SB_PLATFORM_FAILED,     /* will not succeed as it is: other 4xx, bad answers */
} sb_platform_outcome_t;

/* "sent", "retry", "failed". Static. */
const char *sb_platform_outcome_name(sb_platform_outcome_t outcome);

/* By HTTP status alone: 2xx SENT; 0 or less (no answer: connect, TLS or
 * timeout failure), 408, 429, 5xx RETRY; anything else FAILED. */
sb_platform_outcome_t sb_platform_classify_status(int http_status);

/*
 * Reads the platform's answer to a send request: http_status (0 or less when
 * there was no answer) and its body. Returns the outcome:
 *   SENT:   *message_id is a new string with the platform's id of the message
 *           (WhatsApp messages[0].id, Messenger message_id, Telegram
 *           "<chat id>:<message_id>" like inbound ids, Twilio Calls: sid), or
 *           NULL with err saying why when a 2xx answer lacks it (the message
 *           was still accepted: do not send it again);
 *   RETRY:  err says why; *retry_after_s is the platform's hint (Telegram
 *           parameters.retry_after) or 0;
 *   FAILED: err says why (the platform's error message and code).
 * Beyond the HTTP status, Graph API errors marked is_transient or with a rate
 * limit / temporary code (1, 2, 4, 17, 32, 613, 80007, 130429, 131000,
 * 133004) are RETRY; Telegram's {"ok":false} is read by its error_code.
 * message_id and retry_after_s may be NULL when not wanted.
 */
sb_platform_outcome_t sb_platform_read_response(sb_platform_t platform, int http_status,
                                                const char *body, size_t len,
                                                char **message_id, int *retry_after_s,
                                                char *err, size_t errlen);

#endif
