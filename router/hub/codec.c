/*
 * codec.c - request validation and wire encoding of conversations, messages
 * and agents.
 */
#include "switchboard/codec.h"

#include "switchboard/common.h"

#include <stdio.h>
#include <string.h>

json_t *sb_codec_parse(const char *buf, size_t len, const char **type, const char **ref,
                       char refbuf[65], const char **code, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *obj, *jtype, *jref;

    *type = NULL;
    *ref = NULL;
    refbuf[0] = '\0';
    obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!obj) {
        *code = "bad_json";
        snprintf(msg, msglen, "invalid JSON at line %d column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(obj)) {
        *code = "bad_request";
        snprintf(msg, msglen, "a frame must be a JSON object");
        goto fail;
    }
    jref = json_object_get(obj, "ref");
    if (jref) {
        size_t rlen;
        if (!json_is_string(jref) || (rlen = json_string_length(jref)) < 1 || rlen > 64) {
            *code = "bad_request";
            snprintf(msg, msglen, "field 'ref' must be a string of 1 to 64 characters");
            goto fail;
        }
        memcpy(refbuf, json_string_value(jref), rlen + 1);
        *ref = refbuf;
    }
    jtype = json_object_get(obj, "type");
    if (!jtype || !json_is_string(jtype) || json_string_length(jtype) == 0) {
        *code = "bad_request";
        snprintf(msg, msglen, "field 'type' must be a non-empty string");
        goto fail;
    }
    *type = json_string_value(jtype);
    return obj;

fail:
    json_decref(obj);
    return NULL;
}

int sb_codec_str(json_t *obj, const char *field, bool required, const char **out,
                 char *msg, size_t msglen)
{
    json_t *v = json_object_get(obj, field);

    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(msg, msglen, "field '%s' is required (a string)", field);
            return SB_EINVAL;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(msg, msglen, "field '%s' must be a string", field);
        return SB_EINVAL;
    }
    if (required && json_string_length(v) == 0) {
        snprintf(msg, msglen, "field '%s' must not be empty", field);
        return SB_EINVAL;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(msg, msglen, "field '%s' must not contain NUL characters", field);
        return SB_EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

int sb_codec_bool(json_t *obj, const char *field, bool *out, char *msg, size_t msglen)
{
    json_t *v = json_object_get(obj, field);

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        snprintf(msg, msglen, "field '%s' must be a boolean", field);
        return SB_EINVAL;
    }
    *out = json_is_true(v);
    return 0;
}

int sb_codec_int(json_t *obj, const char *field, bool required, int64_t *out,
                 char *msg, size_t msglen)
{
    json_t *v = json_object_get(obj, field);

    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(msg, msglen, "field '%s' is required (an integer)", field);
            return SB_EINVAL;
        }
        return 0;
    }
    if (!json_is_integer(v)) {
        snprintf(msg, msglen, "field '%s' must be an integer", field);
        return SB_EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

int sb_codec_flat_object(json_t *obj, const char *field, json_t **out,
                         char *msg, size_t msglen)
{
    json_t *v = json_object_get(obj, field), *val;
    const char *key;

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        snprintf(msg, msglen, "field '%s' must be an object", field);
        return SB_EINVAL;
    }
    json_object_foreach(v, key, val) {
        if (!json_is_string(val) && !json_is_number(val) && !json_is_boolean(val)) {
            snprintf(msg, msglen, "field '%s.%s' must be a string, number or boolean",
                     field, key);
            return SB_EINVAL;
        }
    }
    *out = v;
    return 0;
}

int sb_codec_skills(const sb_config_t *cfg, json_t *obj, const char *field,
                    sb_skill_req_t **out, size_t *n, bool *present, char *msg, size_t msglen)
{
    json_t *v = json_object_get(obj, field), *val;
    const char *key;
    sb_skill_req_t *reqs;
    size_t i = 0;

    *present = false;
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        snprintf(msg, msglen, "field '%s' must be an object of skill levels", field);
        return SB_EINVAL;
    }
    reqs = sb_calloc(json_object_size(v) + 1, sizeof(*reqs));
    json_object_foreach(v, key, val) {
        int skill = sb_config_skill(cfg, key);
        if (skill < 0) {
            snprintf(msg, msglen, "field '%s.%s': no such skill", field, key);
            goto fail;
        }
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) > 10) {
            snprintf(msg, msglen, "field '%s.%s' must be an integer from 0 to 10", field, key);
            goto fail;
        }
        reqs[i].skill = skill;
        reqs[i].level = (int)json_integer_value(val);
        i++;
    }
    *present = true;
    *out = reqs;
    *n = i;
    return 0;

fail:
    free(reqs);
    return SB_EINVAL;
}

/* Sets key to a string, or null when s is NULL. */
static void set_str(json_t *obj, const char *key, const char *s)
{
    json_object_set_new(obj, key, s ? json_string(s) : json_null());
}

static const char *pool_id(const sb_config_t *cfg, int pool)
{
    return pool >= 0 && (size_t)pool < cfg->npools ? cfg->pools[pool].id : NULL;
}

json_t *sb_codec_message(const sb_conv_t *conv, const sb_message_t *m)
{
    json_t *o = json_object();

    json_object_set_new(o, "type", json_string("message"));
    json_object_set_new(o, "conversation_id", json_string(conv->id));
    json_object_set_new(o, "seq", json_integer((json_int_t)m->seq));
    json_object_set_new(o, "from", json_string(sb_from_name(m->from)));
    set_str(o, "name", m->name);
    if (m->agent_id)
        json_object_set_new(o, "agent", json_string(m->agent_id));
    json_object_set_new(o, "text", json_string(m->text ? m->text : ""));
    json_object_set_new(o, "ts", json_integer(m->ts));
    return o;
}

static json_t *skills_object(const sb_config_t *cfg, const sb_skill_req_t *reqs, size_t n,
                             int relaxed)
{
    json_t *o = json_object();

    for (size_t i = 0; i < n; i++) {
        int level = reqs[i].level - relaxed;
        if (reqs[i].skill < 0 || (size_t)reqs[i].skill >= cfg->nskills)
            continue;
        json_object_set_new(o, cfg->skills[reqs[i].skill], json_integer(level < 0 ? 0 : level));
    }
    return o;
}

json_t *sb_codec_context(const sb_config_t *cfg, const sb_conv_t *conv, size_t limit)
{
    json_t *o = json_object(), *customer = json_object(), *arr;
    size_t first = 0;

    if (limit == 0)
        limit = cfg->transcript_limit > 0 ? (size_t)cfg->transcript_limit : 200;

    json_object_set_new(o, "id", json_string(conv->id));
    json_object_set_new(o, "channel", json_string(conv->channel));
    json_object_set_new(o, "media", json_string(conv->media == SB_MEDIA_VOICE ? "voice" : "chat"));
    json_object_set_new(o, "state", json_string(sb_conv_state_name(conv->state)));
    set_str(customer, "name", conv->customer_name);
    set_str(customer, "email", conv->customer_email);
    set_str(customer, "contact", conv->customer_contact);
    json_object_set_new(o, "customer", customer);
    set_str(o, "language", conv->language >= 0 && (size_t)conv->language < cfg->nlanguages
                               ? cfg->languages[conv->language] : NULL);
    set_str(o, "topic", conv->topic >= 0 && (size_t)conv->topic < cfg->ntopics
                            ? cfg->topics[conv->topic].id : NULL);
    json_object_set_new(o, "skills", skills_object(cfg, conv->skills, conv->nskills, conv->relaxed));
    json_object_set_new(o, "priority", json_integer(conv->priority));
    set_str(o, "pool", pool_id(cfg, conv->pool));
    set_str(o, "agent", conv->agent ? conv->agent->cfg->id : NULL);
    json_object_set_new(o, "attributes",
                        conv->attributes ? json_deep_copy(conv->attributes) : json_object());
    json_object_set_new(o, "created_at", json_integer(conv->created_at));
    json_object_set_new(o, "escalations", json_integer(conv->escalations));

    if (conv->nmsgs > limit)
        first = conv->nmsgs - limit;
    arr = json_array();
    for (size_t i = first; i < conv->nmsgs; i++) {
        json_t *m = sb_codec_message(conv, &conv->msgs[i]);
        json_object_del(m, "type");
        json_object_del(m, "conversation_id");
        json_array_append_new(arr, m);
    }
    json_object_set_new(o, "transcript", arr);
    json_object_set_new(o, "transcript_total", json_integer((json_int_t)conv->nmsgs));
    json_object_set_new(o, "transcript_first_seq",
                        json_integer(conv->nmsgs ? (json_int_t)conv->msgs[first].seq : 0));

    arr = json_array();
    for (size_t i = 0; i < conv->nnotes; i++) {
        const sb_note_t *n = &conv->notes[i];
        json_t *jn = json_object();
        set_str(jn, "agent", n->agent_id);
        json_object_set_new(jn, "text", json_string(n->text ? n->text : ""));
        json_object_set_new(jn, "ts", json_integer(n->ts));
        json_array_append_new(arr, jn);
    }
    json_object_set_new(o, "notes", arr);

    arr = json_array();
    for (size_t i = 0; i < conv->nhistory; i++) {
        const sb_event_t *e = &conv->history[i];
        json_t *je = json_object();
        json_object_set_new(je, "event", json_string(sb_event_name(e->kind)));
        json_object_set_new(je, "ts", json_integer(e->ts));
        set_str(je, "pool", pool_id(cfg, e->pool));
        if (e->from_pool >= 0)
            set_str(je, "from_pool", pool_id(cfg, e->from_pool));
        set_str(je, "agent", e->agent_id);
        if (e->esc_kind)
            json_object_set_new(je, "kind", json_string(e->esc_kind));
        set_str(je, "reason", e->reason);
        if (e->note)
            json_object_set_new(je, "note", json_string(e->note));
        json_array_append_new(arr, je);
    }
    json_object_set_new(o, "history", arr);
    return o;
}

json_t *sb_codec_agent(const sb_config_t *cfg, const sb_agent_t *agent)
{
    const sb_cfg_agent_t *a = agent->cfg;
    json_t *o = json_object(), *pools = json_array(), *langs = json_object(),
           *skills = json_object(), *cap = json_object();

    json_object_set_new(o, "id", json_string(a->id));
    json_object_set_new(o, "name", json_string(a->name ? a->name : a->id));
    json_object_set_new(o, "role", json_string(sb_role_name(a->role)));
    for (size_t i = 0; i < a->npools; i++)
        json_array_append_new(pools, json_string(cfg->pools[a->pools[i]].id));
    json_object_set_new(o, "pools", pools);
    for (size_t i = 0; i < cfg->nlanguages; i++)
        if (a->languages && a->languages[i])
            json_object_set_new(langs, cfg->languages[i], json_integer(a->languages[i]));
    json_object_set_new(o, "languages", langs);
    for (size_t i = 0; i < cfg->nskills; i++)
        if (a->skills && a->skills[i])
            json_object_set_new(skills, cfg->skills[i], json_integer(a->skills[i]));
    json_object_set_new(o, "skills", skills);
    json_object_set_new(cap, "chat", json_integer(a->cap_chat));
    json_object_set_new(cap, "voice", json_integer(a->cap_voice));
    json_object_set_new(o, "capacity", cap);
    json_object_set_new(o, "state", json_string(sb_agent_state_name(agent->state)));
    return o;
}

/* --- frames written straight to text ---------------------------------------- */

void sb_codec_message_text(sb_text_t *t, const sb_conv_t *conv, const sb_message_t *m)
{
    SB_TEXT_LIT(t, "{\"type\":\"message\",\"conversation_id\":");
    sb_text_jstr(t, conv->id);
    SB_TEXT_LIT(t, ",\"seq\":");
    sb_text_int(t, (int64_t)m->seq);
    SB_TEXT_LIT(t, ",\"from\":");
    sb_text_jstr(t, sb_from_name(m->from));
    SB_TEXT_LIT(t, ",\"name\":");
    sb_text_jstr(t, m->name);
    if (m->agent_id) {
        SB_TEXT_LIT(t, ",\"agent\":");
        sb_text_jstr(t, m->agent_id);
    }
    SB_TEXT_LIT(t, ",\"text\":");
    sb_text_jstr(t, m->text ? m->text : "");
    SB_TEXT_LIT(t, ",\"ts\":");
    sb_text_int(t, m->ts);
    SB_TEXT_LIT(t, "}");
}

/* --- the hot request without a tree ----------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* A string without escapes or control characters at *pp (just after its
 * opening quote); NUL-terminates it in place. Its start, or NULL. */
static char *scan_str(char **pp, char *end, size_t *len)
{
    char *p = *pp, *start = p;

    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *len = (size_t)(p - start);
            *p = '\0';
            *pp = p + 1;
            return start;
        }
        if (c < 0x20 || c == '\\')
            return NULL;
        if (c < 0x80) {
            p++;
        } else {
            size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (!n)
                return NULL;
            p += n;
        }
    }
    return NULL;
}

int sb_codec_scan(char *buf, size_t len, sb_flat_t *out)
{
    char *p = buf, *end = buf + len;

    out->n = 0;
    p = (char *)skip_ws(p, end);
    if (p == end || *p++ != '{')
        return -1;
    p = (char *)skip_ws(p, end);
    if (p < end && *p == '}')
        return -1;                  /* no type: sb_codec_parse says so */
    for (;;) {
        size_t klen, i = out->n;
        char *key;
        if (i == SB_FLAT_MAX || p == end || *p++ != '"' || !(key = scan_str(&p, end, &klen)))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->f[j].key, key) == 0)
                return -1;
        p = (char *)skip_ws(p, end);
        if (p == end || *p++ != ':')
            return -1;
        p = (char *)skip_ws(p, end);
        out->f[i].key = key;
        out->f[i].str = NULL;
        if (p < end && *p == '"') {
            p++;
            if (!(out->f[i].str = scan_str(&p, end, &out->f[i].len)))
                return -1;
        } else if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            out->f[i].boolean = true;
            p += 4;
        } else if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            out->f[i].boolean = false;
            p += 5;
        } else {
            return -1;
        }
        out->n++;
        p = (char *)skip_ws(p, end);
        if (p == end)
            return -1;
        if (*p == '}')
            break;
        if (*p++ != ',')
            return -1;
        p = (char *)skip_ws(p, end);
    }
    p = (char *)skip_ws(p + 1, end);
    return p == end ? 0 : -1;
}

int sb_flat_get(const sb_flat_t *f, const char *key, const char **str, size_t *len, bool *b)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->f[i].key, key) != 0)
            continue;
        if (f->f[i].str) {
            *str = f->f[i].str;
            *len = f->f[i].len;
            return 1;
        }
        *b = f->f[i].boolean;
        return 2;
    }
    return 0;
}

int sb_flat_ref(const sb_flat_t *f, const char **ref)
{
    size_t len = 0;
    bool b;
    int kind = sb_flat_get(f, "ref", ref, &len, &b);

    if (kind == 0) {
        *ref = NULL;
        return 0;
    }
    return kind == 1 && len >= 1 && len <= 64 ? 0 : -1;
}
