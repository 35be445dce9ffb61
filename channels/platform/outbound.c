/*
 * outbound.c - requests to the platforms' send APIs (WhatsApp Cloud API,
 * Messenger Send API, Telegram sendMessage, Twilio Calls), TwiML answers to
 * calls, and reading the platforms' answers: sent, retry later, or failed.
 *
 * Pure: it builds strings. The hub's HTTP client sends them and hands the
 * answers back to sb_platform_read_response.
 */
#include "switchboard/platform.h"
#include "switchboard/text.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_API_BASE    "https://graph.facebook.com/v21.0"
#define TELEGRAM_API_BASE "https://api.telegram.org"
#define TWILIO_API_BASE   "https://api.twilio.com"

#define WHATSAPP_MAX_CHARS  4096
#define MESSENGER_MAX_CHARS 2000
#define TELEGRAM_MAX_CHARS  4096
#define CONTACT_MAX 256

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* --- strings ------------------------------------------------------------- */

/* The api_base without trailing slashes; default when NULL or empty. */
static void text_base(sb_text_t *b, const char *base, const char *dflt)
{
    size_t n;

    if (!base || !*base)
        base = dflt;
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    sb_text_raw(b, base, n);
}

/* application/x-www-form-urlencoded: unreserved bytes stay, ' ' is '+',
 * everything else %XX. */
static void text_form(sb_text_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[3];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            sb_text_raw(b, (const char *)&c, 1);
        } else if (c == ' ') {
            sb_text_raw(b, "+", 1);
        } else {
            esc[0] = '%';
            esc[1] = hex[c >> 4];
            esc[2] = hex[c & 15];
            sb_text_raw(b, esc, 3);
        }
    }
}

/* The number of code points of valid UTF-8 s, or -1 when s is not UTF-8. */
static long utf8_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;

    while (*p) {
        int len;
        uint32_t cp;

        if (*p < 0x80) {
            len = 1;
            cp = *p;
        } else if ((*p & 0xE0) == 0xC0) {
            len = 2;
            cp = *p & 0x1F;
        } else if ((*p & 0xF0) == 0xE0) {
            len = 3;
            cp = *p & 0x0F;
        } else if ((*p & 0xF8) == 0xF0) {
            len = 4;
            cp = *p & 0x07;
        } else {
            return -1;
        }
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return -1;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        p += len;
        n++;
    }
    return n;
}

static bool all_of(const char *s, const char *allowed_extra, size_t max)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (allowed_extra && c && strchr(allowed_extra, c))))
            return false;
    }
    return true;
}

/* --- requests ------------------------------------------------------------- */

void sb_platform_request_free(sb_platform_request_t *req)
{
    if (!req)
        return;
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->headers);
    free(req->method);
    free(req->url);
    free(req->body);
    free(req);
}

/* A new POST request to url (taken), with body (taken) and Content-Type. */
static sb_platform_request_t *request_new(char *url, char *body, const char *content_type)
{
    sb_platform_request_t *req = sb_calloc(1, sizeof(*req));

    req->method = sb_strdup("POST");
    req->url = url;
    req->body = body;
    req->body_len = strlen(body);
    req->headers = sb_calloc(4, sizeof(*req->headers));
    req->headers[0].name = sb_strdup("Content-Type");
    req->headers[0].value = sb_strdup(content_type);
    req->nheaders = 1;
    return req;
}

/* Adds a header (at most 3 besides Content-Type); value is taken. */
static void request_header(sb_platform_request_t *req, const char *name, char *value)
{
    req->headers[req->nheaders].name = sb_strdup(name);
    req->headers[req->nheaders].value = value;
    req->nheaders++;
}

static char *dump(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);

    json_decref(obj);
    if (!s) {
        fprintf(stderr, "switchboard: out of memory encoding JSON\n");
        abort();
    }
    return s;
}

/* The checks every text message passes: contact and text present and sane. */
static int check_text(const char *contact_id, const char *text, long max_chars,
                      char *err, size_t errlen)
{
    long chars;

    if (!contact_id || !*contact_id)
        return fail(err, errlen, SB_EINVAL, "contact_id: empty");
    if (strlen(contact_id) > CONTACT_MAX || utf8_chars(contact_id) < 0)
        return fail(err, errlen, SB_EINVAL, "contact_id: not a platform id");
    for (const char *p = contact_id; *p; p++)
        if ((unsigned char)*p < 0x20)
            return fail(err, errlen, SB_EINVAL, "contact_id: control character");
    if (!text || !*text)
        return fail(err, errlen, SB_EINVAL, "text: empty");
    chars = utf8_chars(text);
    if (chars < 0)
        return fail(err, errlen, SB_EINVAL, "text: not valid UTF-8");
    if (chars > max_chars)
        return fail(err, errlen, SB_ETOOLARGE, "text: %ld characters, the platform takes %ld",
                    chars, max_chars);
    return 0;
}

int sb_platform_whatsapp_send(const sb_cfg_channels_t *ch, const char *contact_id,
                              const char *text, sb_platform_request_t **out,
                              char *err, size_t errlen)
{
    sb_text_t url = { 0 };
    json_t *body;
    sb_platform_request_t *req;
    int rc;

    *out = NULL;
    if (!ch || !ch->whatsapp)
        return fail(err, errlen, SB_EINVAL, "whatsapp: channel not configured");
    if (!ch->wa_access_token || !*ch->wa_access_token)
        return fail(err, errlen, SB_EINVAL, "whatsapp: no access_token configured");
    if (!all_of(ch->wa_phone_number_id, NULL, 64))
        return fail(err, errlen, SB_EINVAL, "whatsapp: phone_number_id must be digits");
    if ((rc = check_text(contact_id, text, WHATSAPP_MAX_CHARS, err, errlen)) != 0)
        return rc;

    body = json_pack("{s:s, s:s, s:s, s:s, s:{s:b, s:s}}",
                     "messaging_product", "whatsapp",
                     "recipient_type", "individual",
                     "to", contact_id,
                     "type", "text",
                     "text", "preview_url", 0, "body", text);
    if (!body)
        return fail(err, errlen, SB_EINVAL, "whatsapp: cannot encode the message");
    text_base(&url, ch->wa_api_base, GRAPH_API_BASE);
    sb_text_cat(&url, "/");
    sb_text_cat(&url, ch->wa_phone_number_id);
    sb_text_cat(&url, "/messages");
    req = request_new(url.buf, dump(body), "application/json");
    {
        sb_text_t auth = { 0 };

        sb_text_cat(&auth, "Bearer ");
        sb_text_cat(&auth, ch->wa_access_token);
        request_header(req, "Authorization", auth.buf);
    }
    *out = req;
    return 0;
}

int sb_platform_messenger_send(const sb_cfg_channels_t *ch, const char *contact_id,
                               const char *text, sb_platform_request_t **out,
                               char *err, size_t errlen)
{
    sb_text_t url = { 0 };
    json_t *body;
    int rc;

    *out = NULL;
    if (!ch || !ch->messenger)
        return fail(err, errlen, SB_EINVAL, "messenger: channel not configured");
    if (!ch->ms_page_access_token || !*ch->ms_page_access_token)
        return fail(err, errlen, SB_EINVAL, "messenger: no page_access_token configured");
    if ((rc = check_text(contact_id, text, MESSENGER_MAX_CHARS, err, errlen)) != 0)
        return rc;

    body = json_pack("{s:{s:s}, s:s, s:{s:s}}",
                     "recipient", "id", contact_id,
                     "messaging_type", "RESPONSE",
                     "message", "text", text);
    if (!body)
        return fail(err, errlen, SB_EINVAL, "messenger: cannot encode the message");
    text_base(&url, ch->ms_api_base, GRAPH_API_BASE);
    sb_text_cat(&url, "/me/messages?access_token=");
    text_form(&url, ch->ms_page_access_token);
    *out = request_new(url.buf, dump(body), "application/json");
    return 0;
}

/* A decimal int64 ("-1001234567890"), strictly. */
static bool parse_int64(const char *s, long long *out)
{
    char *end;

    if (!s || !*s || (!(*s >= '0' && *s <= '9') && *s != '-'))
        return false;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0' && end != s && !(s[0] == '-' && s[1] == '\0');
}

int sb_platform_telegram_send(const sb_cfg_channels_t *ch, const char *contact_id,
                              const char *text, sb_platform_request_t **out,
                              char *err, size_t errlen)
{
    sb_text_t url = { 0 };
    json_t *body;
    long long chat_id;
    int rc;

    *out = NULL;
    if (!ch || !ch->telegram)
        return fail(err, errlen, SB_EINVAL, "telegram: channel not configured");
    if (!all_of(ch->tg_bot_token, ":_-", 256))
        return fail(err, errlen, SB_EINVAL, "telegram: bot_token missing or malformed");
    if ((rc = check_text(contact_id, text, TELEGRAM_MAX_CHARS, err, errlen)) != 0)
        return rc;
    if (!parse_int64(contact_id, &chat_id))
        return fail(err, errlen, SB_EINVAL, "contact_id: not a Telegram chat id");

    body = json_pack("{s:I, s:s}", "chat_id", (json_int_t)chat_id, "text", text);
    if (!body)
        return fail(err, errlen, SB_EINVAL, "telegram: cannot encode the message");
    text_base(&url, ch->tg_api_base, TELEGRAM_API_BASE);
    sb_text_cat(&url, "/bot");
    sb_text_cat(&url, ch->tg_bot_token);
    sb_text_cat(&url, "/sendMessage");
    *out = request_new(url.buf, dump(body), "application/json");
    return 0;
}

int sb_platform_send_request(const sb_cfg_channels_t *ch, sb_platform_t platform,
                             const char *contact_id, const char *text,
                             sb_platform_request_t **out, char *err, size_t errlen)
{
    switch (platform) {
    case SB_PLATFORM_WHATSAPP:
        return sb_platform_whatsapp_send(ch, contact_id, text, out, err, errlen);
    case SB_PLATFORM_MESSENGER:
        return sb_platform_messenger_send(ch, contact_id, text, out, err, errlen);
    case SB_PLATFORM_TELEGRAM:
        return sb_platform_telegram_send(ch, contact_id, text, out, err, errlen);
    case SB_PLATFORM_VOICE:
        break;
    }
    *out = NULL;
    return fail(err, errlen, SB_EINVAL, "%s: no text messages", sb_platform_name(platform));
}

/* --- TwiML ---------------------------------------------------------------- */

/* XML text or attribute content: the five specials escaped, control
 * characters XML 1.0 does not allow turned into spaces. */
static void text_xml(sb_text_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        switch (c) {
        case '&':  sb_text_cat(b, "&amp;"); break;
        case '<':  sb_text_cat(b, "&lt;"); break;
        case '>':  sb_text_cat(b, "&gt;"); break;
        case '"':  sb_text_cat(b, "&quot;"); break;
        case '\'': sb_text_cat(b, "&apos;"); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                sb_text_raw(b, " ", 1);
            else
                sb_text_raw(b, (const char *)&c, 1);
        }
    }
}

static void twiml_say(sb_text_t *b, const char *language, const char *say)
{
    if (!say || !*say)
        return;
    sb_text_cat(b, "<Say");
    if (language && *language) {
        sb_text_cat(b, " language=\"");
        text_xml(b, language);
        sb_text_cat(b, "\"");
    }
    sb_text_cat(b, ">");
    text_xml(b, say);
    sb_text_cat(b, "</Say>");
}

#define TWIML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"

char *sb_platform_twiml_enqueue(const char *language, const char *say, const char *queue,
                                const char *wait_url)
{
    sb_text_t b = { 0 };

    if (!queue || !*queue)
        return NULL;
    sb_text_cat(&b, TWIML_HEAD);
    twiml_say(&b, language, say);
    sb_text_cat(&b, "<Enqueue");
    if (wait_url && *wait_url) {
        sb_text_cat(&b, " waitUrl=\"");
        text_xml(&b, wait_url);
        sb_text_cat(&b, "\"");
    }
    sb_text_cat(&b, ">");
    text_xml(&b, queue);
    sb_text_cat(&b, "</Enqueue></Response>");
    return b.buf;
}

char *sb_platform_twiml_say_hangup(const char *language, const char *say)
{
    sb_text_t b = { 0 };

    sb_text_cat(&b, TWIML_HEAD);
    twiml_say(&b, language, say);
    sb_text_cat(&b, "<Hangup/></Response>");
    return b.buf;
}

/* --- Twilio Calls API ----------------------------------------------------- */

static bool e164(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n < 3 || n > 16 || s[0] != '+' || s[1] == '0')
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool account_sid_ok(const char *s)
{
    if (!s || strlen(s) != 34 || s[0] != 'A' || s[1] != 'C')
        return false;
    for (int i = 2; i < 34; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

static void form_pair(sb_text_t *b, const char *name, const char *value)
{
    if (b->len)
        sb_text_raw(b, "&", 1);
    text_form(b, name);
    sb_text_raw(b, "=", 1);
    text_form(b, value);
}

int sb_platform_twilio_call(const sb_cfg_channels_t *ch, const char *account_sid,
                            const char *from, const char *to, const char *url,
                            sb_platform_request_t **out, char *err, size_t errlen)
{
    sb_text_t api = { 0 }, body = { 0 }, own = { 0 }, cred = { 0 }, auth = { 0 };
    sb_platform_request_t *req;
    char *b64;

    *out = NULL;
    if (!ch || !ch->voice)
        return fail(err, errlen, SB_EINVAL, "voice: channel not configured");
    if (!ch->vo_auth_token || !*ch->vo_auth_token)
        return fail(err, errlen, SB_EINVAL, "voice: no auth_token configured");
    if (!account_sid_ok(account_sid))
        return fail(err, errlen, SB_EINVAL, "account_sid: must be AC and 32 hex digits");
    if (!e164(from))
        return fail(err, errlen, SB_EINVAL, "from: not an E.164 number");
    if (!e164(to))
        return fail(err, errlen, SB_EINVAL, "to: not an E.164 number");
    if (!url || !*url) {
        if (!ch->vo_public_url || !*ch->vo_public_url)
            return fail(err, errlen, SB_EINVAL, "voice: no public_url configured");
        text_base(&own, ch->vo_public_url, "");
        sb_text_cat(&own, "/v1/webhooks/voice");
        url = own.buf;
    }
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        free(own.buf);
        return fail(err, errlen, SB_EINVAL, "url: must be http(s)");
    }

    text_base(&api, ch->vo_api_base, TWILIO_API_BASE);
    sb_text_cat(&api, "/2010-04-01/Accounts/");
    sb_text_cat(&api, account_sid);
    sb_text_cat(&api, "/Calls.json");
    form_pair(&body, "To", to);
    form_pair(&body, "From", from);
    form_pair(&body, "Url", url);
    form_pair(&body, "Method", "POST");
    form_pair(&body, "StatusCallback", url);
    form_pair(&body, "StatusCallbackMethod", "POST");
    free(own.buf);

    sb_text_cat(&cred, account_sid);
    sb_text_cat(&cred, ":");
    sb_text_cat(&cred, ch->vo_auth_token);
    b64 = sb_malloc(4 * ((cred.len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)cred.buf, (int)cred.len);
    sb_text_cat(&auth, "Basic ");
    sb_text_cat(&auth, b64);
    OPENSSL_cleanse(b64, strlen(b64));
    free(b64);
    OPENSSL_cleanse(cred.buf, cred.len);
    free(cred.buf);

    req = request_new(api.buf, body.buf, "application/x-www-form-urlencoded");
    request_header(req, "Authorization", auth.buf);
    *out = req;
    return 0;
}

/* --- the platforms' answers ---------------------------------------------- */

const char *sb_platform_outcome_name(sb_platform_outcome_t outcome)
{
    switch (outcome) {
    case SB_PLATFORM_SENT:   return "sent";
    case SB_PLATFORM_RETRY:  return "retry";
    case SB_PLATFORM_FAILED: return "failed";
    }
    return "unknown";
}

sb_platform_outcome_t sb_platform_classify_status(int http_status)
{
    if (http_status >= 200 && http_status <= 299)
        return SB_PLATFORM_SENT;
    if (http_status <= 0 || http_status == 408 || http_status == 429 ||
        (http_status >= 500 && http_status <= 599))
        return SB_PLATFORM_RETRY;
    return SB_PLATFORM_FAILED;
}

/* Graph API error codes that say "later", not "never": unknown/temporary
 * (1, 2), rate limits (4, 17, 32, 613, 80007), Cloud API throughput (130429),
 * "something went wrong, try again" (131000), server unavailable (133004). */
static bool graph_transient(json_int_t code)
{
    static const json_int_t codes[] = { 1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 133004 };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i] == code)
            return true;
    return false;
}

static json_t *load_object(const char *body, size_t len)
{
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;

    if (root && !json_is_object(root)) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

/* A Graph API {"error":{...}}: its message and code into err; whether it is
 * transient. */
static bool graph_error(json_t *root, char *err, size_t errlen)
{
    json_t *error = root ? json_object_get(root, "error") : NULL;
    json_t *msg = json_object_get(error, "message"), *code = json_object_get(error, "code");
    json_t *transient = json_object_get(error, "is_transient");

    if (!json_is_object(error))
        return false;
    fail(err, errlen, 0, "%s (code %" JSON_INTEGER_FORMAT ")",
         json_is_string(msg) ? json_string_value(msg) : "error",
         json_is_integer(code) ? json_integer_value(code) : (json_int_t)0);
    return json_is_true(transient) ||
           (json_is_integer(code) && graph_transient(json_integer_value(code)));
}

/* The message id in a 2xx answer (new string) or NULL. */
static char *sent_id(sb_platform_t platform, json_t *root)
{
    json_t *v;

    switch (platform) {
    case SB_PLATFORM_WHATSAPP:
        v = json_object_get(json_array_get(json_object_get(root, "messages"), 0), "id");
        return json_is_string(v) && *json_string_value(v) ? sb_strdup(json_string_value(v)) : NULL;
    case SB_PLATFORM_MESSENGER:
        v = json_object_get(root, "message_id");
        return json_is_string(v) && *json_string_value(v) ? sb_strdup(json_string_value(v)) : NULL;
    case SB_PLATFORM_TELEGRAM: {
        json_t *result = json_object_get(root, "result");
        json_t *mid = json_object_get(result, "message_id");
        json_t *chat = json_object_get(json_object_get(result, "chat"), "id");
        char id[64];

        if (!json_is_integer(mid) || !json_is_integer(chat))
            return NULL;
        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
                 json_integer_value(chat), json_integer_value(mid));
        return sb_strdup(id);
    }
    case SB_PLATFORM_VOICE:
        v = json_object_get(root, "sid");
        return json_is_string(v) && *json_string_value(v) ? sb_strdup(json_string_value(v)) : NULL;
    }
    return NULL;
}

sb_platform_outcome_t sb_platform_read_response(sb_platform_t platform, int http_status,
                                                const char *body, size_t len,
                                                char **message_id, int *retry_after_s,
                                                char *err, size_t errlen)
{
    sb_platform_outcome_t outcome = sb_platform_classify_status(http_status);
    json_t *root = http_status > 0 ? load_object(body, len) : NULL;

    if (message_id)
        *message_id = NULL;
    if (retry_after_s)
        *retry_after_s = 0;
    if (err && errlen)
        err[0] = '\0';

    if (http_status <= 0) {
        fail(err, errlen, 0, "no answer from %s", sb_platform_name(platform));
        return SB_PLATFORM_RETRY;
    }

    if (platform == SB_PLATFORM_TELEGRAM && root &&
        json_is_false(json_object_get(root, "ok"))) {
        /* {"ok":false,"error_code":429,"description":"...","parameters":{"retry_after":5}} */
        json_t *code = json_object_get(root, "error_code");
        json_t *desc = json_object_get(root, "description");
        json_t *after = json_object_get(json_object_get(root, "parameters"), "retry_after");
        int tg = json_is_integer(code) ? (int)json_integer_value(code) : http_status;

        fail(err, errlen, 0, "%s (error_code %d)",
             json_is_string(desc) ? json_string_value(desc) : "error", tg);
        /* an ok:false that claims success is not something to retry forever */
        outcome = sb_platform_classify_status(tg >= 200 && tg <= 299 ? 400 : tg);
        if (json_is_integer(after) && json_integer_value(after) > 0) {
            outcome = SB_PLATFORM_RETRY;
            if (retry_after_s)
                *retry_after_s = json_integer_value(after) > 86400
                                 ? 86400 : (int)json_integer_value(after);
        }
        json_decref(root);
        return outcome;
    }

    if (outcome == SB_PLATFORM_SENT) {
        char *id = root ? sent_id(platform, root) : NULL;

        if (!id)
            fail(err, errlen, 0, "HTTP %d without a message id in the answer", http_status);
        if (message_id)
            *message_id = id;
        else
            free(id);
        json_decref(root);
        return SB_PLATFORM_SENT;
    }

    if ((platform == SB_PLATFORM_WHATSAPP || platform == SB_PLATFORM_MESSENGER) &&
        root && json_is_object(json_object_get(root, "error"))) {
        if (graph_error(root, err, errlen))
            outcome = SB_PLATFORM_RETRY;
    } else if (platform == SB_PLATFORM_VOICE && root &&
               json_is_string(json_object_get(root, "message"))) {
        /* Twilio: {"code":21211,"message":"...","status":400} */
        json_t *code = json_object_get(root, "code");

        fail(err, errlen, 0, "%s (code %" JSON_INTEGER_FORMAT ")",
             json_string_value(json_object_get(root, "message")),
             json_is_integer(code) ? json_integer_value(code) : (json_int_t)0);
    } else {
        fail(err, errlen, 0, "HTTP %d", http_status);
    }
    json_decref(root);
    return outcome;
}
