/*
 * inbound.c - the platforms' webhook payloads to normalized events: WhatsApp
 * Cloud API, Messenger Platform, Telegram Bot API updates and Twilio voice
 * webhooks. docs/channels.md says what each parser reads and ignores.
 *
 * Every body is untrusted. Each parser validates as it reads, names the
 * failing field in its error ("entry[0].messaging[2].sender.id: missing"),
 * and on failure removes every event it had appended, so the caller's list is
 * as it was.
 */
#include "switchboard/platform.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 192

/* The latest time accepted: 9999-12-31T23:59:59Z. */
#define MAX_SECS INT64_C(253402300799)

typedef struct perr {
    char *buf;
    size_t len;
} perr_t;

static int bad(perr_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(perr_t *e, const char *fmt, ...)
{
    va_list ap;

    if (e->buf && e->len) {
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return SB_EINVAL;
}

/* Formats a field path ("entry[0].changes[1]") into a PATH_MAX_LEN buffer;
 * a path too long for it is cut, which only shortens an error message. */
static void pathf(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void pathf(char *dst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, PATH_MAX_LEN, fmt, ap);
    va_end(ap);
}

const char *sb_platform_event_kind_name(sb_platform_event_kind_t kind)
{
    switch (kind) {
    case SB_PLATFORM_EV_MESSAGE:    return "message";
    case SB_PLATFORM_EV_STATUS:     return "status";
    case SB_PLATFORM_EV_CALL:       return "call";
    case SB_PLATFORM_EV_CALL_ENDED: return "call_ended";
    case SB_PLATFORM_EV_IGNORED:    return "ignored";
    }
    return "unknown";
}

/* --- the event list ----------------------------------------------------- */

sb_platform_events_t *sb_platform_events_new(void)
{
    return sb_calloc(1, sizeof(sb_platform_events_t));
}

static void event_clear(sb_platform_event_t *ev)
{
    free(ev->contact_id);
    free(ev->contact_name);
    free(ev->language);
    free(ev->business_id);
    free(ev->external_id);
    free(ev->text);
    free(ev->status);
    free(ev->ref_id);
    free(ev->reason);
    free(ev->direction);
    free(ev->account_id);
}

void sb_platform_events_free(sb_platform_events_t *events)
{
    if (!events)
        return;
    for (size_t i = 0; i < events->n; i++)
        event_clear(&events->items[i]);
    free(events->items);
    free(events);
}

/* Appends a zeroed event. The pointer is good until the next push. */
static sb_platform_event_t *push(sb_platform_events_t *l, sb_platform_t platform,
                                 sb_platform_event_kind_t kind)
{
    sb_platform_event_t *ev;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->items = sb_realloc(l->items, l->cap * sizeof(*l->items));
    }
    ev = &l->items[l->n++];
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->platform = platform;
    ev->channel = sb_platform_name(platform);
    ev->duration_s = -1;
    return ev;
}

/* Drops the events appended since start. */
static void rollback(sb_platform_events_t *l, size_t start)
{
    while (l->n > start)
        event_clear(&l->items[--l->n]);
}

/* A new string: a, sep and b joined, skipping what is NULL or empty. */
static char *join(const char *a, const char *sep, const char *b)
{
    size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0, ls = la && lb ? strlen(sep) : 0;
    char *s;

    if (!la && !lb)
        return NULL;
    s = sb_malloc(la + ls + lb + 1);
    memcpy(s, a ? a : "", la);
    memcpy(s + la, sep, ls);
    memcpy(s + la + ls, b ? b : "", lb);
    s[la + ls + lb] = '\0';
    return s;
}

static char *fmt_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *fmt_new(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = sb_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A stable id for a piece that has none of its own: "<what>:" and 32 hex
 * digits of the SHA-256 of its canonical JSON (keys sorted, compact). */
static char *content_id(const char *what, json_t *piece)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    char digest[33];
    char *dump = json_dumps(piece, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

    SHA256((const unsigned char *)(dump ? dump : ""), dump ? strlen(dump) : 0, md);
    free(dump);
    for (int i = 0; i < 16; i++) {
        digest[2 * i] = hex[md[i] >> 4];
        digest[2 * i + 1] = hex[md[i] & 15];
    }
    digest[32] = '\0';
    return fmt_new("%s:%s", what, digest);
}

/* --- reading JSON ------------------------------------------------------- */

static json_t *load(perr_t *e, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *root;

    if (!body || len == 0) {
        bad(e, "empty body");
        return NULL;
    }
    root = json_loadb(body, len, 0, &jerr);
    if (!root) {
        bad(e, "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        bad(e, "the body is not a JSON object");
        return NULL;
    }
    return root;
}

/* The member key of obj, NULL when absent or null. */
static json_t *member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_null(v) ? NULL : v;
}

/*
 * Typed member readers: 0 with *out set (NULL, 0 or false when absent and
 * not required), or SB_EINVAL naming "path.key" when the member has the wrong type
 * or is required and absent. typed() is the one lookup they share: the member
 * when it is there and `ok` says its type is right, else NULL with *rc set.
 */
static json_t *typed(perr_t *e, json_t *obj, const char *path, const char *key, bool required,
                     int (*ok)(const json_t *), const char *want, int *rc)
{
    json_t *v = member(obj, key);

    *rc = 0;
    if (!v) {
        if (required)
            *rc = bad(e, "%s%s%s: missing", path, *path ? "." : "", key);
        return NULL;
    }
    if (!ok(v)) {
        *rc = bad(e, "%s%s%s: must be %s", path, *path ? "." : "", key, want);
        return NULL;
    }
    return v;
}

static int is_string(const json_t *v) { return json_is_string(v); }
static int is_object(const json_t *v) { return json_is_object(v); }
static int is_array(const json_t *v) { return json_is_array(v); }
static int is_integer(const json_t *v) { return json_is_integer(v); }
static int is_boolean(const json_t *v) { return json_is_boolean(v); }

static int m_str(perr_t *e, json_t *obj, const char *path, const char *key, bool required,
                 const char **out)
{
    int rc;
    json_t *v = typed(e, obj, path, key, required, is_string, "a string", &rc);

    *out = v ? json_string_value(v) : NULL;
    return rc;
}

static int m_obj(perr_t *e, json_t *obj, const char *path, const char *key, bool required,
                 json_t **out)
{
    int rc;

    *out = typed(e, obj, path, key, required, is_object, "an object", &rc);
    return rc;
}

static int m_arr(perr_t *e, json_t *obj, const char *path, const char *key, bool required,
                 json_t **out)
{
    int rc;

    *out = typed(e, obj, path, key, required, is_array, "an array", &rc);
    return rc;
}

/* An integer member; *present says whether it was there. */
static int m_int(perr_t *e, json_t *obj, const char *path, const char *key, bool required,
                 json_int_t *out, bool *present)
{
    int rc;
    json_t *v = typed(e, obj, path, key, required, is_integer, "an integer", &rc);

    *present = v != NULL;
    *out = v ? json_integer_value(v) : 0;
    return rc;
}

static int m_bool(perr_t *e, json_t *obj, const char *path, const char *key, bool *out)
{
    int rc;
    json_t *v = typed(e, obj, path, key, false, is_boolean, "true or false", &rc);

    *out = v && json_is_true(v);
    return rc;
}

/* Seconds as a decimal string ("1749416383") to ms; false when it is not
 * 1-12 digits within 0..MAX_SECS. */
static bool secs_string_ms(const char *s, sb_ms_t *out)
{
    int64_t v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 12)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > MAX_SECS)
        return false;
    *out = v * 1000;
    return true;
}

static bool secs_ms(json_int_t v, sb_ms_t *out)
{
    if (v < 0 || v > MAX_SECS)
        return false;
    *out = (sb_ms_t)v * 1000;
    return true;
}

static bool ms_ok(json_int_t v)
{
    return v >= 0 && v <= MAX_SECS * 1000 + 999;
}

/* --- WhatsApp Cloud API --------------------------------------------------- */

/* The profile name of the contact with wa_id in value.contacts, or NULL. */
static int wa_contact_name(perr_t *e, json_t *contacts, const char *vpath, const char *wa_id,
                           const char **name)
{
    size_t i;
    json_t *c;
    char path[PATH_MAX_LEN];

    *name = NULL;
    json_array_foreach(contacts, i, c) {
        const char *id, *pname;
        json_t *profile;
        int rc;

        pathf(path, "%s.contacts[%zu]", vpath, i);
        if (!json_is_object(c))
            return bad(e, "%s: must be an object", path);
        if ((rc = m_str(e, c, path, "wa_id", false, &id)) != 0 ||
            (rc = m_obj(e, c, path, "profile", false, &profile)) != 0)
            return rc;
        if (!id || strcmp(id, wa_id) != 0 || !profile)
            continue;
        pathf(path, "%s.contacts[%zu].profile", vpath, i);
        if ((rc = m_str(e, profile, path, "name", false, &pname)) != 0)
            return rc;
        if (pname && *pname) {
            *name = pname;
            return 0;
        }
    }
    return 0;
}

static int wa_message(perr_t *e, json_t *m, const char *path, json_t *contacts,
                      const char *vpath, const char *phone_number_id, sb_platform_events_t *out)
{
    const char *from, *id, *stamp, *type, *text = NULL, *name = NULL;
    sb_platform_event_t *ev;
    sb_ms_t ts;
    int rc;

    if (!json_is_object(m))
        return bad(e, "%s: must be an object", path);
    if ((rc = m_str(e, m, path, "from", true, &from)) != 0 ||
        (rc = m_str(e, m, path, "id", true, &id)) != 0 ||
        (rc = m_str(e, m, path, "timestamp", true, &stamp)) != 0 ||
        (rc = m_str(e, m, path, "type", true, &type)) != 0)
        return rc;
    if (!*from)
        return bad(e, "%s.from: empty", path);
    if (!*id)
        return bad(e, "%s.id: empty", path);
    if (!secs_string_ms(stamp, &ts))
        return bad(e, "%s.timestamp: not a time in seconds", path);
    if (strcmp(type, "text") == 0) {
        json_t *t;
        char tpath[PATH_MAX_LEN];

        if ((rc = m_obj(e, m, path, "text", true, &t)) != 0)
            return rc;
        pathf(tpath, "%s.text", path);
        if ((rc = m_str(e, t, tpath, "body", true, &text)) != 0)
            return rc;
    }
    if (contacts && (rc = wa_contact_name(e, contacts, vpath, from, &name)) != 0)
        return rc;

    ev = push(out, SB_PLATFORM_WHATSAPP, text ? SB_PLATFORM_EV_MESSAGE : SB_PLATFORM_EV_IGNORED);
    ev->contact_id = sb_strdup(from);
    ev->contact_name = sb_strdup(name);
    ev->business_id = sb_strdup(phone_number_id);
    ev->external_id = sb_strdup(id);
    ev->ts = ts;
    if (text)
        ev->text = sb_strdup(text);
    else
        ev->reason = sb_strdup(type[0] ? type : "unknown");
    return 0;
}

static bool known_status(const char *s)
{
    return strcmp(s, "sent") == 0 || strcmp(s, "delivered") == 0 || strcmp(s, "read") == 0 ||
           strcmp(s, "failed") == 0;
}

/* The first of a WhatsApp errors[] array as "title (code N)", or NULL. */
static int wa_error_text(perr_t *e, json_t *errors, const char *path, char **out)
{
    json_t *first = errors ? json_array_get(errors, 0) : NULL;
    const char *title, *message;
    json_int_t code = 0;
    bool has_code;
    char epath[PATH_MAX_LEN];
    int rc;

    *out = NULL;
    if (!first)
        return 0;
    pathf(epath, "%s.errors[0]", path);
    if (!json_is_object(first))
        return bad(e, "%s: must be an object", epath);
    if ((rc = m_str(e, first, epath, "title", false, &title)) != 0 ||
        (rc = m_str(e, first, epath, "message", false, &message)) != 0 ||
        (rc = m_int(e, first, epath, "code", false, &code, &has_code)) != 0)
        return rc;
    if (!title)
        title = message ? message : "error";
    *out = has_code ? fmt_new("%s (code %" JSON_INTEGER_FORMAT ")", title, code)
                    : sb_strdup(title);
    return 0;
}

static int wa_status(perr_t *e, json_t *s, const char *path, const char *phone_number_id,
                     sb_platform_events_t *out)
{
    const char *id, *status, *stamp, *recipient;
    json_t *errors;
    char *why = NULL;
    sb_platform_event_t *ev;
    sb_ms_t ts;
    int rc;

    if (!json_is_object(s))
        return bad(e, "%s: must be an object", path);
    if ((rc = m_str(e, s, path, "id", true, &id)) != 0 ||
        (rc = m_str(e, s, path, "status", true, &status)) != 0 ||
        (rc = m_str(e, s, path, "timestamp", true, &stamp)) != 0 ||
        (rc = m_str(e, s, path, "recipient_id", false, &recipient)) != 0 ||
        (rc = m_arr(e, s, path, "errors", false, &errors)) != 0)
        return rc;
    if (!*id)
        return bad(e, "%s.id: empty", path);
    if (!*status)
        return bad(e, "%s.status: empty", path);
    if (!secs_string_ms(stamp, &ts))
        return bad(e, "%s.timestamp: not a time in seconds", path);
    if ((rc = wa_error_text(e, errors, path, &why)) != 0)
        return rc;

    ev = push(out, SB_PLATFORM_WHATSAPP,
              known_status(status) ? SB_PLATFORM_EV_STATUS : SB_PLATFORM_EV_IGNORED);
    ev->contact_id = recipient && *recipient ? sb_strdup(recipient) : NULL;
    ev->business_id = sb_strdup(phone_number_id);
    ev->external_id = fmt_new("%s:%s", id, status);
    ev->ref_id = sb_strdup(id);
    ev->ts = ts;
    if (ev->kind == SB_PLATFORM_EV_STATUS) {
        ev->status = sb_strdup(status);
        ev->reason = why;
    } else {
        ev->reason = fmt_new("status:%s", status);
        free(why);
    }
    return 0;
}

static int wa_change(perr_t *e, json_t *change, const char *path, sb_platform_events_t *out)
{
    const char *field, *phone_number_id = NULL;
    json_t *value, *metadata, *contacts, *messages, *statuses, *errors, *item;
    char vpath[PATH_MAX_LEN], ipath[PATH_MAX_LEN];
    size_t i;
    int rc;

    if (!json_is_object(change))
        return bad(e, "%s: must be an object", path);
    if ((rc = m_str(e, change, path, "field", true, &field)) != 0 ||
        (rc = m_obj(e, change, path, "value", true, &value)) != 0)
        return rc;
    if (strcmp(field, "messages") != 0) {
        /* account_update, message_template_status_update, ...: not for the router */
        sb_platform_event_t *ev = push(out, SB_PLATFORM_WHATSAPP, SB_PLATFORM_EV_IGNORED);

        ev->reason = fmt_new("field:%s", field);
        ev->external_id = content_id("change", change);
        return 0;
    }
    pathf(vpath, "%s.value", path);
    if ((rc = m_obj(e, value, vpath, "metadata", false, &metadata)) != 0 ||
        (rc = m_arr(e, value, vpath, "contacts", false, &contacts)) != 0 ||
        (rc = m_arr(e, value, vpath, "messages", false, &messages)) != 0 ||
        (rc = m_arr(e, value, vpath, "statuses", false, &statuses)) != 0 ||
        (rc = m_arr(e, value, vpath, "errors", false, &errors)) != 0)
        return rc;
    if (metadata) {
        pathf(ipath, "%s.metadata", vpath);
        if ((rc = m_str(e, metadata, ipath, "phone_number_id", false, &phone_number_id)) != 0)
            return rc;
    }
    json_array_foreach(messages, i, item) {
        pathf(ipath, "%s.messages[%zu]", vpath, i);
        if ((rc = wa_message(e, item, ipath, contacts, vpath, phone_number_id, out)) != 0)
            return rc;
    }
    json_array_foreach(statuses, i, item) {
        pathf(ipath, "%s.statuses[%zu]", vpath, i);
        if ((rc = wa_status(e, item, ipath, phone_number_id, out)) != 0)
            return rc;
    }
    if (errors && json_array_size(errors) > 0) {
        /* errors about the business account itself, not about one message */
        char *why = NULL;
        sb_platform_event_t *ev;

        if ((rc = wa_error_text(e, errors, vpath, &why)) != 0)
            return rc;
        ev = push(out, SB_PLATFORM_WHATSAPP, SB_PLATFORM_EV_IGNORED);
        ev->reason = join("errors", ": ", why);
        ev->business_id = sb_strdup(phone_number_id);
        ev->external_id = content_id("errors", errors);
        free(why);
    }
    return 0;
}

static int wa_root(perr_t *e, json_t *root, sb_platform_events_t *out)
{
    const char *object;
    json_t *entries, *entry;
    size_t i;
    int rc;

    if ((rc = m_str(e, root, "", "object", true, &object)) != 0)
        return rc;
    if (strcmp(object, "whatsapp_business_account") != 0)
        return bad(e, "object: expected \"whatsapp_business_account\"");
    if ((rc = m_arr(e, root, "", "entry", true, &entries)) != 0)
        return rc;
    json_array_foreach(entries, i, entry) {
        json_t *changes, *change;
        char path[PATH_MAX_LEN], cpath[PATH_MAX_LEN];
        size_t j;

        pathf(path, "entry[%zu]", i);
        if (!json_is_object(entry))
            return bad(e, "%s: must be an object", path);
        if ((rc = m_arr(e, entry, path, "changes", true, &changes)) != 0)
            return rc;
        json_array_foreach(changes, j, change) {
            pathf(cpath, "%s.changes[%zu]", path, j);
            if ((rc = wa_change(e, change, cpath, out)) != 0)
                return rc;
        }
    }
    return 0;
}

/* Runs one JSON parser with the load / rollback / free around it. */
static int parse_json(int (*fn)(perr_t *, json_t *, sb_platform_events_t *),
                      const char *body, size_t len, sb_platform_events_t *out,
                      char *err, size_t errlen)
{
    perr_t e = { err, errlen };
    size_t start = out->n;
    json_t *root;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    root = load(&e, body, len);
    if (!root)
        return SB_EINVAL;
    rc = fn(&e, root, out);
    json_decref(root);
    if (rc != 0)
        rollback(out, start);
    return rc;
}

int sb_platform_parse_whatsapp(const char *body, size_t len, sb_platform_events_t *out,
                               char *err, size_t errlen)
{
    return parse_json(wa_root, body, len, out, err, errlen);
}

/* --- Messenger Platform --------------------------------------------------- */

static int ms_message(perr_t *e, json_t *msg, const char *path, const char *sender,
                      const char *recipient, sb_ms_t ts, sb_platform_events_t *out)
{
    const char *mid, *text;
    bool echo;
    json_t *attachments;
    sb_platform_event_t *ev;
    char *reason = NULL;
    int rc;

    if ((rc = m_str(e, msg, path, "mid", true, &mid)) != 0 ||
        (rc = m_bool(e, msg, path, "is_echo", &echo)) != 0 ||
        (rc = m_str(e, msg, path, "text", false, &text)) != 0 ||
        (rc = m_arr(e, msg, path, "attachments", false, &attachments)) != 0)
        return rc;
    if (!*mid)
        return bad(e, "%s.mid: empty", path);
    if (echo) {
        reason = sb_strdup("echo");
    } else if (!text) {
        json_t *first = attachments ? json_array_get(attachments, 0) : NULL;
        json_t *type = json_is_object(first) ? member(first, "type") : NULL;

        reason = json_is_string(type) ? fmt_new("attachment:%s", json_string_value(type))
                 : attachments ? sb_strdup("attachment") : sb_strdup("no text");
    }
    ev = push(out, SB_PLATFORM_MESSENGER, reason ? SB_PLATFORM_EV_IGNORED : SB_PLATFORM_EV_MESSAGE);
    /* An echo is our page's own message: the customer is its recipient. */
    ev->contact_id = sb_strdup(echo ? recipient : sender);
    ev->business_id = sb_strdup(echo ? sender : recipient);
    ev->external_id = sb_strdup(mid);
    ev->ts = ts;
    ev->reason = reason;
    if (!reason)
        ev->text = sb_strdup(text);
    return 0;
}

/* message_deliveries: one status per mid, or one watermark status. */
static int ms_delivery(perr_t *e, json_t *d, const char *path, const char *sender,
                       const char *recipient, sb_ms_t ts, sb_platform_events_t *out)
{
    json_t *mids, *mid;
    json_int_t watermark;
    bool has;
    size_t i;
    int rc;

    if ((rc = m_arr(e, d, path, "mids", false, &mids)) != 0 ||
        (rc = m_int(e, d, path, "watermark", true, &watermark, &has)) != 0)
        return rc;
    if (!ms_ok(watermark))
        return bad(e, "%s.watermark: not a time in milliseconds", path);
    json_array_foreach(mids, i, mid) {
        if (!json_is_string(mid) || !*json_string_value(mid))
            return bad(e, "%s.mids[%zu]: must be a non-empty string", path, i);
    }
    if (!ts)
        ts = watermark;
    if (mids && json_array_size(mids) > 0) {
        json_array_foreach(mids, i, mid) {
            sb_platform_event_t *ev = push(out, SB_PLATFORM_MESSENGER, SB_PLATFORM_EV_STATUS);

            ev->contact_id = sb_strdup(sender);
            ev->business_id = sb_strdup(recipient);
            ev->status = sb_strdup("delivered");
            ev->ref_id = sb_strdup(json_string_value(mid));
            ev->external_id = fmt_new("%s:delivered", json_string_value(mid));
            ev->ts = ts;
        }
    } else {
        sb_platform_event_t *ev = push(out, SB_PLATFORM_MESSENGER, SB_PLATFORM_EV_STATUS);

        ev->contact_id = sb_strdup(sender);
        ev->business_id = sb_strdup(recipient);
        ev->status = sb_strdup("delivered");
        ev->external_id = fmt_new("%s:%" JSON_INTEGER_FORMAT ":delivered", sender, watermark);
        ev->ts = watermark;
    }
    return 0;
}

static int ms_read(perr_t *e, json_t *r, const char *path, const char *sender,
                   const char *recipient, sb_platform_events_t *out)
{
    json_int_t watermark;
    bool has;
    sb_platform_event_t *ev;
    int rc;

    if ((rc = m_int(e, r, path, "watermark", true, &watermark, &has)) != 0)
        return rc;
    if (!ms_ok(watermark))
        return bad(e, "%s.watermark: not a time in milliseconds", path);
    ev = push(out, SB_PLATFORM_MESSENGER, SB_PLATFORM_EV_STATUS);
    ev->contact_id = sb_strdup(sender);
    ev->business_id = sb_strdup(recipient);
    ev->status = sb_strdup("read");
    ev->external_id = fmt_new("%s:%" JSON_INTEGER_FORMAT ":read", sender, watermark);
    ev->ts = watermark;
    return 0;
}

static int ms_event(perr_t *e, json_t *m, const char *path, sb_platform_events_t *out)
{
    json_t *sender, *recipient, *msg, *delivery, *read;
    const char *sender_id, *recipient_id = NULL, *key;
    json_int_t stamp = 0;
    bool has_ts;
    sb_ms_t ts = 0;
    char sub[PATH_MAX_LEN];
    int rc;

    if (!json_is_object(m))
        return bad(e, "%s: must be an object", path);
    if ((rc = m_obj(e, m, path, "sender", true, &sender)) != 0 ||
        (rc = m_obj(e, m, path, "recipient", false, &recipient)) != 0 ||
        (rc = m_int(e, m, path, "timestamp", false, &stamp, &has_ts)) != 0 ||
        (rc = m_obj(e, m, path, "message", false, &msg)) != 0 ||
        (rc = m_obj(e, m, path, "delivery", false, &delivery)) != 0 ||
        (rc = m_obj(e, m, path, "read", false, &read)) != 0)
        return rc;
    pathf(sub, "%s.sender", path);
    if ((rc = m_str(e, sender, sub, "id", true, &sender_id)) != 0)
        return rc;
    if (!*sender_id)
        return bad(e, "%s.id: empty", sub);
    if (recipient) {
        pathf(sub, "%s.recipient", path);
        if ((rc = m_str(e, recipient, sub, "id", false, &recipient_id)) != 0)
            return rc;
    }
    if (has_ts) {
        if (!ms_ok(stamp))
            return bad(e, "%s.timestamp: not a time in milliseconds", path);
        ts = stamp;
    }
    if (msg) {
        pathf(sub, "%s.message", path);
        return ms_message(e, msg, sub, sender_id, recipient_id, ts, out);
    }
    if (delivery) {
        pathf(sub, "%s.delivery", path);
        return ms_delivery(e, delivery, sub, sender_id, recipient_id, ts, out);
    }
    if (read) {
        pathf(sub, "%s.read", path);
        return ms_read(e, read, sub, sender_id, recipient_id, out);
    }
    /* postback, reaction, referral, optin, message_edit, ...: name the first */
    {
        sb_platform_event_t *ev;
        const char *what = NULL;
        json_t *v;

        json_object_foreach(m, key, v) {
            if (strcmp(key, "sender") != 0 && strcmp(key, "recipient") != 0 &&
                strcmp(key, "timestamp") != 0) {
                what = key;
                break;
            }
        }
        ev = push(out, SB_PLATFORM_MESSENGER, SB_PLATFORM_EV_IGNORED);
        ev->contact_id = sb_strdup(sender_id);
        ev->business_id = sb_strdup(recipient_id);
        ev->reason = sb_strdup(what ? what : "unknown");
        ev->external_id = content_id(what ? what : "event", m);
        ev->ts = ts;
    }
    return 0;
}

static int ms_root(perr_t *e, json_t *root, sb_platform_events_t *out)
{
    const char *object;
    json_t *entries, *entry;
    size_t i;
    int rc;

    if ((rc = m_str(e, root, "", "object", true, &object)) != 0)
        return rc;
    if (strcmp(object, "page") != 0)
        return bad(e, "object: expected \"page\"");
    if ((rc = m_arr(e, root, "", "entry", true, &entries)) != 0)
        return rc;
    json_array_foreach(entries, i, entry) {
        json_t *messaging, *m;
        char path[PATH_MAX_LEN], mpath[PATH_MAX_LEN];
        size_t j;

        pathf(path, "entry[%zu]", i);
        if (!json_is_object(entry))
            return bad(e, "%s: must be an object", path);
        if ((rc = m_arr(e, entry, path, "messaging", false, &messaging)) != 0)
            return rc;
        if (!messaging) {
            /* standby (handover protocol), changes (page feed): not ours */
            sb_platform_event_t *ev = push(out, SB_PLATFORM_MESSENGER, SB_PLATFORM_EV_IGNORED);
            const char *what = member(entry, "standby") ? "standby"
                               : member(entry, "changes") ? "changes" : "no messaging";

            ev->reason = sb_strdup(what);
            ev->external_id = content_id("entry", entry);
            continue;
        }
        json_array_foreach(messaging, j, m) {
            pathf(mpath, "%s.messaging[%zu]", path, j);
            if ((rc = ms_event(e, m, mpath, out)) != 0)
                return rc;
        }
    }
    return 0;
}

int sb_platform_parse_messenger(const char *body, size_t len, sb_platform_events_t *out,
                                char *err, size_t errlen)
{
    return parse_json(ms_root, body, len, out, err, errlen);
}

/* --- Telegram Bot API ------------------------------------------------------ */

/* What a Telegram Message carries, read and checked. Strings are borrowed. */
typedef struct tg_message {
    json_int_t message_id, chat_id;
    sb_ms_t ts;
    const char *text;
    const char *first_name, *last_name, *username, *language;
    const char *chat_title;
    const char *content;     /* what a non-text message holds: "photo", ... */
} tg_message_t;

/* Content fields of a Message, for naming what a non-text message holds. */
static const char *const tg_content[] = {
    "photo", "sticker", "animation", "audio", "document", "video", "video_note", "voice",
    "contact", "location", "venue", "poll", "dice", "game", "invoice", "story",
    "paid_media", "new_chat_members", "left_chat_member", "new_chat_title",
    "new_chat_photo", "pinned_message", NULL,
};

static bool tg_language_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 35)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static int tg_read_message(perr_t *e, json_t *msg, const char *path, tg_message_t *t)
{
    json_t *chat, *from;
    json_int_t date;
    bool has;
    char sub[PATH_MAX_LEN];
    int rc;

    memset(t, 0, sizeof(*t));
    if ((rc = m_int(e, msg, path, "message_id", true, &t->message_id, &has)) != 0 ||
        (rc = m_int(e, msg, path, "date", true, &date, &has)) != 0 ||
        (rc = m_obj(e, msg, path, "chat", true, &chat)) != 0 ||
        (rc = m_obj(e, msg, path, "from", false, &from)) != 0 ||
        (rc = m_str(e, msg, path, "text", false, &t->text)) != 0)
        return rc;
    if (t->message_id < 0)
        return bad(e, "%s.message_id: negative", path);
    if (!secs_ms(date, &t->ts))
        return bad(e, "%s.date: not a time in seconds", path);
    pathf(sub, "%s.chat", path);
    if ((rc = m_int(e, chat, sub, "id", true, &t->chat_id, &has)) != 0 ||
        (rc = m_str(e, chat, sub, "title", false, &t->chat_title)) != 0)
        return rc;
    if (from) {
        json_int_t uid;

        pathf(sub, "%s.from", path);
        if ((rc = m_int(e, from, sub, "id", true, &uid, &has)) != 0 ||
            (rc = m_str(e, from, sub, "first_name", false, &t->first_name)) != 0 ||
            (rc = m_str(e, from, sub, "last_name", false, &t->last_name)) != 0 ||
            (rc = m_str(e, from, sub, "username", false, &t->username)) != 0 ||
            (rc = m_str(e, from, sub, "language_code", false, &t->language)) != 0)
            return rc;
    } else {
        /* a private chat carries the person's names too */
        if ((rc = m_str(e, chat, sub, "first_name", false, &t->first_name)) != 0 ||
            (rc = m_str(e, chat, sub, "last_name", false, &t->last_name)) != 0 ||
            (rc = m_str(e, chat, sub, "username", false, &t->username)) != 0)
            return rc;
    }
    if (t->language && !tg_language_ok(t->language))
        t->language = NULL;
    if (!t->text) {
        for (int i = 0; tg_content[i]; i++)
            if (member(msg, tg_content[i])) {
                t->content = tg_content[i];
                break;
            }
        if (!t->content)
            t->content = "non-text";
    }
    return 0;
}

static void tg_fill_contact(sb_platform_event_t *ev, const tg_message_t *t)
{
    ev->contact_id = fmt_new("%" JSON_INTEGER_FORMAT, t->chat_id);
    ev->contact_name = join(t->first_name, " ", t->last_name);
    if (!ev->contact_name)
        ev->contact_name = sb_strdup(t->chat_title && *t->chat_title ? t->chat_title
                                     : t->username && *t->username ? t->username : NULL);
    ev->language = sb_strdup(t->language);
    ev->ts = t->ts;
}

/* Update fields that hold a Message. */
static const char *const tg_message_updates[] = {
    "edited_message", "channel_post", "edited_channel_post", "business_message",
    "edited_business_message", NULL,
};

static int tg_root(perr_t *e, json_t *root, sb_platform_events_t *out)
{
    json_int_t update_id;
    bool has;
    json_t *msg, *v;
    const char *key, *what = NULL;
    tg_message_t t;
    sb_platform_event_t *ev;
    int rc;

    if ((rc = m_int(e, root, "", "update_id", true, &update_id, &has)) != 0)
        return rc;
    if (update_id < 0)
        return bad(e, "update_id: negative");
    if ((rc = m_obj(e, root, "", "message", false, &msg)) != 0)
        return rc;
    if (msg) {
        if ((rc = tg_read_message(e, msg, "message", &t)) != 0)
            return rc;
        ev = push(out, SB_PLATFORM_TELEGRAM, t.text ? SB_PLATFORM_EV_MESSAGE : SB_PLATFORM_EV_IGNORED);
        tg_fill_contact(ev, &t);
        ev->external_id = fmt_new("%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
                                  t.chat_id, t.message_id);
        if (t.text)
            ev->text = sb_strdup(t.text);
        else
            ev->reason = sb_strdup(t.content);
        return 0;
    }
    /* Anything else is ignored; say what, and who when it is a Message. */
    json_object_foreach(root, key, v) {
        if (strcmp(key, "update_id") != 0 && !json_is_null(v)) {
            what = key;
            break;
        }
    }
    for (int i = 0; what && tg_message_updates[i]; i++) {
        if (strcmp(what, tg_message_updates[i]) != 0)
            continue;
        if ((rc = m_obj(e, root, "", what, true, &msg)) != 0 ||
            (rc = tg_read_message(e, msg, what, &t)) != 0)
            return rc;
        ev = push(out, SB_PLATFORM_TELEGRAM, SB_PLATFORM_EV_IGNORED);
        tg_fill_contact(ev, &t);
        ev->reason = sb_strdup(what);
        ev->external_id = fmt_new("update:%" JSON_INTEGER_FORMAT, update_id);
        return 0;
    }
    ev = push(out, SB_PLATFORM_TELEGRAM, SB_PLATFORM_EV_IGNORED);
    ev->reason = sb_strdup(what ? what : "empty update");
    ev->external_id = fmt_new("update:%" JSON_INTEGER_FORMAT, update_id);
    return 0;
}

int sb_platform_parse_telegram(const char *body, size_t len, sb_platform_events_t *out,
                               char *err, size_t errlen)
{
    return parse_json(tg_root, body, len, out, err, errlen);
}

/* --- Twilio voice ---------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* An RFC 2822 date as Twilio sends it ("Mon, 16 Aug 2010 03:45:01 +0000")
 * to ms; false when it is not one. */
static bool rfc2822_ms(const char *s, sb_ms_t *out)
{
    static const char *const months[] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    };
    char mon[4], sign;
    int d, y, hh, mm, ss, zone, m = -1, used = 0;
    const char *comma = strchr(s, ',');
    int64_t secs;

    if (comma)
        s = comma + 1;
    if (sscanf(s, " %2d %3s %4d %2d:%2d:%2d %c%4d%n", &d, mon, &y, &hh, &mm, &ss, &sign,
               &zone, &used) != 8 || s[used] != '\0')
        return false;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, months[i]) == 0)
            m = i + 1;
    if (m < 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || hh > 23 || mm > 59 || ss > 60 ||
        (sign != '+' && sign != '-') || zone < 0 || zone % 100 > 59 || zone > 2359)
        return false;
    secs = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
    secs -= (sign == '-' ? -1 : 1) * ((zone / 100) * 3600 + (zone % 100) * 60);
    if (secs < 0 || secs > MAX_SECS)
        return false;
    *out = secs * 1000;
    return true;
}

static bool word_ok(const char *s, size_t max, bool lower_dash)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = lower_dash ? ((c >= 'a' && c <= 'z') || c == '-')
                             : ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9'));

        if (!ok)
            return false;
    }
    return true;
}

static bool call_ended(const char *s)
{
    return strcmp(s, "completed") == 0 || strcmp(s, "busy") == 0 || strcmp(s, "failed") == 0 ||
           strcmp(s, "no-answer") == 0 || strcmp(s, "canceled") == 0;
}

static bool call_live(const char *s)
{
    return strcmp(s, "queued") == 0 || strcmp(s, "initiated") == 0 ||
           strcmp(s, "ringing") == 0 || strcmp(s, "in-progress") == 0;
}

int sb_platform_parse_voice(const sb_platform_params_t *params, sb_platform_events_t *out,
                            char *err, size_t errlen)
{
    perr_t e = { err, errlen };
    const char *sid, *status, *direction, *from, *to, *caller_name, *account, *duration, *stamp;
    const char *contact, *ours;
    bool outbound;
    sb_platform_event_kind_t kind;
    sb_platform_event_t *ev;
    sb_ms_t ts = 0;
    int dur = -1;

    if (err && errlen)
        err[0] = '\0';
    if (!params)
        return bad(&e, "no parameters");
    sid = sb_platform_params_get(params, "CallSid");
    status = sb_platform_params_get(params, "CallStatus");
    direction = sb_platform_params_get(params, "Direction");
    from = sb_platform_params_get(params, "From");
    to = sb_platform_params_get(params, "To");
    caller_name = sb_platform_params_get(params, "CallerName");
    account = sb_platform_params_get(params, "AccountSid");
    duration = sb_platform_params_get(params, "CallDuration");
    stamp = sb_platform_params_get(params, "Timestamp");

    if (!sid)
        return bad(&e, "CallSid: missing");
    if (!word_ok(sid, 64, false))
        return bad(&e, "CallSid: must be 1-64 letters and digits");
    if (!status)
        return bad(&e, "CallStatus: missing");
    if (!word_ok(status, 32, true))
        return bad(&e, "CallStatus: must be 1-32 of [a-z-]");
    if (account && *account && !word_ok(account, 64, false))
        return bad(&e, "AccountSid: must be 1-64 letters and digits");
    if (direction && *direction && !word_ok(direction, 32, true))
        return bad(&e, "Direction: must be 1-32 of [a-z-]");
    if (duration && *duration) {
        long v = 0;

        for (const char *p = duration; *p; p++) {
            if (*p < '0' || *p > '9' || v > 100000000)
                return bad(&e, "CallDuration: not a number of seconds");
            v = v * 10 + (*p - '0');
        }
        dur = (int)v;
    }
    if (stamp && *stamp && !rfc2822_ms(stamp, &ts))
        return bad(&e, "Timestamp: not an RFC 2822 date");

    outbound = direction && strncmp(direction, "outbound", 8) == 0;
    contact = outbound ? to : from;
    ours = outbound ? from : to;
    kind = call_ended(status) ? SB_PLATFORM_EV_CALL_ENDED
           : call_live(status) ? SB_PLATFORM_EV_CALL : SB_PLATFORM_EV_IGNORED;
    if (kind != SB_PLATFORM_EV_IGNORED && (!contact || !*contact))
        return bad(&e, "%s: missing", outbound ? "To" : "From");

    ev = push(out, SB_PLATFORM_VOICE, kind);
    ev->contact_id = contact && *contact ? sb_strdup(contact) : NULL;
    ev->contact_name = !outbound && caller_name && *caller_name ? sb_strdup(caller_name) : NULL;
    ev->business_id = ours && *ours ? sb_strdup(ours) : NULL;
    ev->external_id = fmt_new("%s:%s", sid, status);
    ev->ref_id = sb_strdup(sid);
    ev->status = sb_strdup(status);
    ev->direction = direction && *direction ? sb_strdup(direction) : NULL;
    ev->account_id = account && *account ? sb_strdup(account) : NULL;
    ev->duration_s = dur;
    ev->ts = ts;
    if (kind == SB_PLATFORM_EV_CALL_ENDED)
        ev->reason = sb_strdup(status);
    else if (kind == SB_PLATFORM_EV_IGNORED)
        ev->reason = fmt_new("status:%s", status);
    return 0;
}
