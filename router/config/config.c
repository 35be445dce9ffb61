/*
 * config.c - reads a libconfig file and validates it, in one pass, into the
 * typed sb_config_t of config.h (spec/config.md; project keys in
 * docs/configuration.md).
 *
 * Nothing stops at the first problem: every unknown key, wrong type, missing
 * reference or out-of-range number is collected as "FILE:LINE: what is
 * wrong", and the caller gets them all, sorted by line. Ids that other
 * sections refer to (skills, languages, pool ids) are read first, so a
 * reference is checked where it is written, whatever the order of sections
 * in the file.
 */
#include "switchboard/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

/* ------------------------------------------------------------------ */
/* Defaults: the one place they are written (docs/configuration.md).  */

#define DEF_STORE_ENGINE    "sqlite"
#define DEF_STORE_PATH      "var/switchboard.db"
#define DEF_WEB_ROOT        "web"
#define DEF_GRAPH_API_BASE  "https://graph.facebook.com/v21.0"
#define DEF_TELEGRAM_API    "https://api.telegram.org"
#define DEF_VOICE_API       "https://api.twilio.com"

static void config_defaults(sb_config_t *cfg)
{
    cfg->max_frame_bytes = 65536;
    cfg->max_connections = 100000;
    cfg->rate_mps = 20;
    cfg->rate_burst = 40;
    cfg->web_root = sb_strdup(DEF_WEB_ROOT);
    cfg->demo = false;

    cfg->store_engine = sb_strdup(DEF_STORE_ENGINE);
    cfg->store_path = sb_strdup(DEF_STORE_PATH);
    cfg->store_sync = SB_SYNC_FULL;
    cfg->store_retain_days = 0;

    cfg->default_language = -1;      /* the first of `languages` when unset */
    cfg->detect_language = true;
    cfg->wrap_up_s = 0;
    cfg->agent_grace_s = 30;
    cfg->max_missed_offers = 3;
    cfg->default_handle_s = 180;
    cfg->transcript_limit = 200;

    cfg->default_pool = -1;

    cfg->esc_max_per_conversation = 5;
    cfg->esc_bot_fallbacks = 2;

    cfg->channels.wa_pool = -1;
    cfg->channels.ms_pool = -1;
    cfg->channels.tg_pool = -1;
    cfg->channels.vo_pool = -1;
    cfg->channels.outbox_max_age_s = 86400;
    cfg->channels.outbox_concurrency = 4;
    cfg->channels.outbox_retry_base_ms = 1000;
    cfg->channels.outbox_retry_max_s = 300;
    cfg->channels.outbox_timeout_s = 30;
}

static const sb_cfg_pool_t pool_defaults = {
    .tier = 1,
    .strategy = SB_STRATEGY_LONGEST_IDLE,
    .accept = SB_ACCEPT_DIRECT,
    .offer_timeout_s = 15,
    .max_wait_s = 0,
    .overflow = -1,
    .escalate_to = -1,
    .sla_first_response_s = 60,
};

static const sb_cfg_agent_t agent_defaults = {
    .role = SB_ROLE_AGENT,
    .cap_chat = 1,
    .cap_voice = 0,
};

/* Ranges. Durations are seconds, up to 30 days. */
#define MAX_SECONDS  (30 * 24 * 3600)
#define MAX_LEVEL    10

/* ------------------------------------------------------------------ */
/* Error collection.                                                  */

typedef struct cfg_error {
    char *file;          /* as the user can open it: dir/name for @include */
    bool included;       /* from an @include'd file, not the main one */
    int line;
    size_t seq;          /* discovery order, to keep the sort stable */
    char *msg;
} cfg_error_t;

typedef struct loader {
    const char *path;
    const char *dir;     /* the directory of path: where @include looks */
    sb_config_t *cfg;
    cfg_error_t *errs;
    size_t nerrs, caperrs;
} loader_t;

static void verr_at(loader_t *ld, const char *file, int line, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    char *msg, *where;
    bool included = file && strcmp(file, ld->path) != 0;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    msg = sb_malloc((size_t)n + 1);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    if (ld->nerrs == ld->caperrs) {
        ld->caperrs = ld->caperrs ? 2 * ld->caperrs : 16;
        ld->errs = sb_realloc(ld->errs, ld->caperrs * sizeof(*ld->errs));
    }
    /* libconfig names an included file as written in @include; it opened it
     * in the include directory, so say that path. */
    if (!included || file[0] == '/' || !ld->dir) {
        where = sb_strdup(file ? file : ld->path);
    } else {
        size_t len = strlen(ld->dir) + strlen(file) + 2;
        where = sb_malloc(len);
        snprintf(where, len, "%s/%s", ld->dir, file);
    }
    ld->errs[ld->nerrs] = (cfg_error_t){ where, included, line, ld->nerrs, msg };
    ld->nerrs++;
}

/* Records an error at the file and line setting S was read from. */
static void err_at(loader_t *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_at(loader_t *ld, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    int line = s ? (int)config_setting_source_line(s) : 0;

    va_start(ap, fmt);
    /* The root group has no line of its own: name the top of the file. */
    verr_at(ld, s ? config_setting_source_file(s) : NULL, line > 0 ? line : 1, fmt, ap);
    va_end(ap);
}

/* Records an error with an explicit file and line. */
static void err_line(loader_t *ld, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_line(loader_t *ld, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verr_at(ld, file, line, fmt, ap);
    va_end(ap);
}

/* The main file first, then included files by name; by line within a file,
 * in discovery order within a line. */
static int error_cmp(const void *a, const void *b)
{
    const cfg_error_t *x = a, *y = b;
    int c;

    if (x->included != y->included)
        return x->included ? 1 : -1;
    if ((c = strcmp(x->file, y->file)) != 0)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the errors by file and line and writes them, one a line, into err.
 * Cannot fail; truncates with "..." when err is too small. */
static void errors_write(loader_t *ld, char *err, size_t errlen)
{
    size_t used = 0;
    bool truncated = false;

    if (ld->nerrs > 1)
        qsort(ld->errs, ld->nerrs, sizeof(*ld->errs), error_cmp);
    if (!err || errlen == 0)
        return;
    err[0] = '\0';
    for (size_t i = 0; i < ld->nerrs && !truncated; i++) {
        int n = snprintf(err + used, errlen - used, "%s%s:%d: %s", i ? "\n" : "",
                         ld->errs[i].file, ld->errs[i].line, ld->errs[i].msg);
        if (n < 0 || (size_t)n >= errlen - used)
            truncated = true;
        else
            used += (size_t)n;
    }
    if (truncated && errlen > 4)
        memcpy(err + errlen - 4, "...", 4);
}

static void errors_free(loader_t *ld)
{
    for (size_t i = 0; i < ld->nerrs; i++) {
        free(ld->errs[i].file);
        free(ld->errs[i].msg);
    }
    free(ld->errs);
}

/* ------------------------------------------------------------------ */
/* Generic checks over libconfig settings.                            */

/* "ctx: " or "" for top-level keys. */
static const char *sep(const char *ctx)
{
    return *ctx ? ": " : "";
}

static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:  return "a group { ... }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:  return "an integer";
    case CONFIG_TYPE_FLOAT:  return "a float";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL:   return "a boolean";
    case CONFIG_TYPE_ARRAY:  return "an array [ ... ]";
    case CONFIG_TYPE_LIST:   return "a list ( ... )";
    default:                 return "nothing";
    }
}

static bool in_list(const char *const *names, const char *name)
{
    for (; *names; names++)
        if (strcmp(*names, name) == 0)
            return true;
    return false;
}

/* Edit distance, for "did you mean" on unknown keys (short names only). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];

    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Reports every member of group G whose name is not in ALLOWED
 * (NULL-terminated), with a suggestion when one is close. */
static void check_keys(loader_t *ld, const config_setting_t *g, const char *ctx,
                       const char *const *allowed)
{
    int n = config_setting_length(g);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        const char *best = NULL;
        size_t bestd = 3;

        if (!name || in_list(allowed, name))
            continue;
        for (const char *const *a = allowed; *a; a++) {
            size_t d = edit_distance(name, *a);
            if (d < bestd && 2 * d < strlen(name)) {
                bestd = d;
                best = *a;
            }
        }
        if (best)
            err_at(ld, m, "%s%sunknown setting \"%s\" (did you mean \"%s\"?)",
                   ctx, sep(ctx), name, best);
        else
            err_at(ld, m, "%s%sunknown setting \"%s\"", ctx, sep(ctx), name);
    }
}

/* Member KEY of group G, or NULL when absent (an error if REQUIRED). */
static config_setting_t *member(loader_t *ld, const config_setting_t *g, const char *ctx,
                                const char *key, bool required)
{
    config_setting_t *m = g ? config_setting_get_member(g, key) : NULL;

    if (!m && required && g)
        err_at(ld, g, "%s%smissing required setting \"%s\"", ctx, sep(ctx), key);
    return m;
}

/* True when S is of type TYPE (INT also takes INT64, and LIST takes an
 * ARRAY: "[ ]" and "( )" both write a sequence); else reports it. LABEL
 * names the setting in the message. */
static bool is_type(loader_t *ld, const config_setting_t *s, const char *ctx,
                    const char *label, int type)
{
    int t = config_setting_type(s);

    if (t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64) ||
        (type == CONFIG_TYPE_LIST && t == CONFIG_TYPE_ARRAY))
        return true;
    err_at(ld, s, "%s%s%s must be %s, not %s", ctx, sep(ctx), label,
           type == CONFIG_TYPE_LIST ? "a list" : type_name(type), type_name(t));
    return false;
}

/* Group member KEY of G, checked to be a group; NULL when absent or not a
 * group (reported). */
static config_setting_t *get_group(loader_t *ld, const config_setting_t *g, const char *ctx,
                                   const char *key, bool required)
{
    config_setting_t *m = member(ld, g, ctx, key, required);

    if (m && !is_type(ld, m, ctx, key, CONFIG_TYPE_GROUP))
        return NULL;
    return m;
}

/* A sequence (list or array) member; NULL when absent or of another type. */
static config_setting_t *get_seq(loader_t *ld, const config_setting_t *g, const char *ctx,
                                 const char *key, bool required)
{
    config_setting_t *m = member(ld, g, ctx, key, required);

    if (m && !is_type(ld, m, ctx, key, CONFIG_TYPE_LIST))
        return NULL;
    return m;
}

/* Integer setting S within [LO, HI] into *OUT; false (reported) otherwise. */
static bool int_value(loader_t *ld, const config_setting_t *s, const char *ctx,
                      const char *label, long long lo, long long hi, int *out)
{
    long long v;

    if (!is_type(ld, s, ctx, label, CONFIG_TYPE_INT))
        return false;
    v = config_setting_get_int64(s);
    if (v < lo || v > hi) {
        err_at(ld, s, "%s%s%s must be between %lld and %lld, not %lld",
               ctx, sep(ctx), label, lo, hi, v);
        return false;
    }
    *out = (int)v;
    return true;
}

/* Integer member KEY; *OUT keeps its default when absent. True when set. */
static bool get_int(loader_t *ld, const config_setting_t *g, const char *ctx, const char *key,
                    bool required, long long lo, long long hi, int *out)
{
    config_setting_t *m = member(ld, g, ctx, key, required);

    return m && int_value(ld, m, ctx, key, lo, hi, out);
}

static bool get_bool(loader_t *ld, const config_setting_t *g, const char *ctx, const char *key,
                     bool *out)
{
    config_setting_t *m = member(ld, g, ctx, key, false);

    if (!m || !is_type(ld, m, ctx, key, CONFIG_TYPE_BOOL))
        return false;
    *out = config_setting_get_bool(m) != 0;
    return true;
}

/* String setting S, non-empty; borrowed from libconfig. NULL (reported) otherwise. */
static const char *str_value(loader_t *ld, const config_setting_t *s, const char *ctx,
                             const char *label)
{
    const char *v;

    if (!is_type(ld, s, ctx, label, CONFIG_TYPE_STRING))
        return NULL;
    v = config_setting_get_string(s);
    if (!v || !*v) {
        err_at(ld, s, "%s%s%s must not be empty", ctx, sep(ctx), label);
        return NULL;
    }
    return v;
}

/* Non-empty string member KEY, borrowed; NULL when absent or invalid. */
static const char *get_str(loader_t *ld, const config_setting_t *g, const char *ctx,
                           const char *key, bool required)
{
    config_setting_t *m = member(ld, g, ctx, key, required);

    return m ? str_value(ld, m, ctx, key) : NULL;
}

/* Replaces *DST with a copy of V (when V is not NULL). */
static void set_str(char **dst, const char *v)
{
    if (!v)
        return;
    free(*dst);
    *dst = sb_strdup(v);
}

/* String member KEY that must be one of NAMES (NULL-terminated); its index
 * into *OUT. */
static bool get_enum(loader_t *ld, const config_setting_t *g, const char *ctx, const char *key,
                     bool required, const char *const *names, int *out)
{
    config_setting_t *m = member(ld, g, ctx, key, required);
    const char *v;
    char list[256];
    size_t used = 0;

    if (!m || !(v = str_value(ld, m, ctx, key)))
        return false;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0) {
            *out = i;
            return true;
        }
    list[0] = '\0';
    for (int i = 0; names[i] && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s",
                         i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
        if (n > 0)
            used += (size_t)n;
    }
    err_at(ld, m, "%s%s%s must be %s, not \"%s\"", ctx, sep(ctx), key, list, v);
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A lowercase hex SHA-256 member KEY decoded into OUT[32]. */
static bool get_sha256(loader_t *ld, const config_setting_t *g, const char *ctx,
                       const char *key, bool required, uint8_t out[32])
{
    config_setting_t *m = member(ld, g, ctx, key, required);
    const char *v;
    uint8_t buf[32];

    if (!m || !(v = str_value(ld, m, ctx, key)))
        return false;
    if (strlen(v) != 64)
        goto bad;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(out, buf, 32);
    return true;
bad:
    err_at(ld, m, "%s%s%s must be 64 lowercase hex digits, the SHA-256 of the secret "
           "(printf %%s SECRET | sha256sum)", ctx, sep(ctx), key);
    return false;
}

/* An http(s) URL member KEY, copied into *DST without trailing slashes. */
static void get_url(loader_t *ld, const config_setting_t *g, const char *ctx, const char *key,
                    bool required, char **dst)
{
    config_setting_t *m = member(ld, g, ctx, key, required);
    const char *v, *rest = NULL;
    size_t n;

    if (!m || !(v = str_value(ld, m, ctx, key)))
        return;
    if (strncmp(v, "https://", 8) == 0)
        rest = v + 8;
    else if (strncmp(v, "http://", 7) == 0)
        rest = v + 7;
    if (!rest || !*rest || *rest == '/') {
        err_at(ld, m, "%s%s%s must be an http:// or https:// URL, not \"%s\"",
               ctx, sep(ctx), key, v);
        return;
    }
    n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        n--;
    free(*dst);
    *dst = sb_strndup(v, n);
}

/* ------------------------------------------------------------------ */
/* Names: skills, languages, pools.                                   */

static int find_name(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

static int find_pool(const sb_config_t *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->npools; i++)
        if (cfg->pools[i].id && strcmp(cfg->pools[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Skill ids are setting names in agents and topics (`skills = { billing = 7; }`),
 * so they follow libconfig's name syntax: a letter, then letters, digits,
 * '-' and '_'. */
static bool valid_key_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

/* A BCP 47-like tag: letters, then "-" subtags of letters and digits. */
static bool valid_language_tag(const char *s)
{
    size_t run = 0;
    bool first = true;

    for (; *s; s++) {
        if (*s == '-') {
            if (run == 0)
                return false;
            run = 0;
            first = false;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                   (!first && *s >= '0' && *s <= '9')) {
            if (++run > 8)
                return false;
        } else {
            return false;
        }
    }
    return run > 0;
}

/* `skills` or `languages`: a sequence of unique names. */
static void parse_names(loader_t *ld, const config_setting_t *root, const char *key,
                        bool is_language, char ***out, size_t *nout)
{
    config_setting_t *seq = get_seq(ld, root, "", key, is_language);
    int n;

    if (!seq)
        return;     /* absent (reported when required) or not a sequence */
    n = config_setting_length(seq);
    if (is_language && n == 0)
        err_at(ld, seq, "languages must name at least one language");
    *out = sb_calloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(seq, (unsigned)i);
        char label[48];
        const char *v;

        snprintf(label, sizeof(label), "%s[%d]", key, i);
        if (!(v = str_value(ld, e, "", label)))
            continue;
        if (is_language ? !valid_language_tag(v) : !valid_key_name(v)) {
            if (is_language)
                err_at(ld, e, "%s \"%s\" is not a language tag (e.g. \"en\", \"pt-BR\")",
                       label, v);
            else
                err_at(ld, e, "%s \"%s\" must start with a letter and hold only letters, "
                       "digits, '-' and '_' (it is used as a setting name)", label, v);
            continue;
        }
        if (find_name(*out, *nout, v) >= 0) {
            err_at(ld, e, "%s \"%s\" is listed twice", key, v);
            continue;
        }
        (*out)[(*nout)++] = sb_strdup(v);
    }
}

/* A pool reference: string member KEY naming a pool, into *OUT. */
static bool get_pool_ref(loader_t *ld, const config_setting_t *g, const char *ctx,
                         const char *key, bool required, int *out)
{
    config_setting_t *m = member(ld, g, ctx, key, required);
    const char *v;
    int p;

    if (!m || !(v = str_value(ld, m, ctx, key)))
        return false;
    if ((p = find_pool(ld->cfg, v)) < 0) {
        err_at(ld, m, "%s%s%s \"%s\" is not a configured pool", ctx, sep(ctx), key, v);
        return false;
    }
    *out = p;
    return true;
}

/* A group of `name = level;` (0-10) whose names come from NAMES. Levels go
 * into LEVELS[nnames]; returns how many were set above 0. */
static int parse_levels(loader_t *ld, const config_setting_t *g, const char *ctx,
                        const char *what, char *const *names, size_t nnames, uint8_t *levels)
{
    int n = config_setting_length(g), positive = 0;
    char label[160];

    snprintf(label, sizeof(label), "%s%s%s", ctx, sep(ctx), config_setting_name(g));
    for (int i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(e);
        int idx = find_name(names, nnames, name), level = 0;

        if (idx < 0) {
            err_at(ld, e, "%s: \"%s\" is not a configured %s", label, name, what);
            continue;
        }
        if (!int_value(ld, e, label, name, 0, MAX_LEVEL, &level))
            continue;
        levels[idx] = (uint8_t)level;
        if (level > 0)
            positive++;
    }
    return positive;
}

/* ------------------------------------------------------------------ */
/* Sections.                                                          */

/* "host:port" or "[v6]:port", port 0-65535. */
static void parse_listen(loader_t *ld, const config_setting_t *server)
{
    config_setting_t *m = member(ld, server, "server", "listen", true);
    sb_config_t *cfg = ld->cfg;
    const char *v, *colon, *host;
    size_t hostlen;
    char *end, hostbuf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[16];
    long port;

    if (!m || !(v = str_value(ld, m, "server", "listen")))
        return;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (!close || close[1] != ':')
            goto bad;
        host = v + 1;
        hostlen = (size_t)(close - host);
        colon = close + 1;
        if (hostlen == 0 || hostlen >= sizeof(hostbuf))
            goto bad;
        memcpy(hostbuf, host, hostlen);
        hostbuf[hostlen] = '\0';
        if (inet_pton(AF_INET6, hostbuf, addr) != 1)
            goto bad;
    } else {
        colon = strchr(v, ':');
        if (!colon || colon == v || strchr(colon + 1, ':'))
            goto bad;
        host = v;
        hostlen = (size_t)(colon - v);
        for (size_t i = 0; i < hostlen; i++) {
            char c = host[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
                goto bad;
        }
    }
    if (colon[1] < '0' || colon[1] > '9' || strlen(colon + 1) > 5)
        goto bad;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end || errno || port < 0 || port > 65535)
        goto bad;
    free(cfg->listen_host);
    cfg->listen_host = sb_strndup(host, hostlen);
    cfg->listen_port = (int)port;
    return;
bad:
    err_at(ld, m, "server: listen must be \"host:port\" or \"[ipv6]:port\" with a port "
           "0-65535, not \"%s\"", v);
}

/* An Origin header value: scheme://host[:port], no path. */
static bool valid_origin(const char *v)
{
    const char *rest;

    if (strncmp(v, "https://", 8) == 0)
        rest = v + 8;
    else if (strncmp(v, "http://", 7) == 0)
        rest = v + 7;
    else
        return false;
    return *rest && !strchr(rest, '/');
}

static void parse_server(loader_t *ld, const config_setting_t *root)
{
    static const char *const keys[] = {
        "listen", "tls", "max_frame_bytes", "max_connections", "rate", "allowed_origins",
        "admin_token_sha256", "web_root", "demo", NULL
    };
    static const char *const tls_keys[] = { "cert", "key", NULL };
    static const char *const rate_keys[] = { "messages_per_second", "burst", NULL };
    sb_config_t *cfg = ld->cfg;
    config_setting_t *s = get_group(ld, root, "", "server", true), *g;

    if (!s)
        return;
    check_keys(ld, s, "server", keys);
    parse_listen(ld, s);
    if ((g = get_group(ld, s, "server", "tls", false))) {
        check_keys(ld, g, "server.tls", tls_keys);
        set_str(&cfg->tls_cert, get_str(ld, g, "server.tls", "cert", true));
        set_str(&cfg->tls_key, get_str(ld, g, "server.tls", "key", true));
    }
    get_int(ld, s, "server", "max_frame_bytes", false, 256, 64 << 20, &cfg->max_frame_bytes);
    get_int(ld, s, "server", "max_connections", false, 1, 10000000, &cfg->max_connections);
    if ((g = get_group(ld, s, "server", "rate", false))) {
        check_keys(ld, g, "server.rate", rate_keys);
        get_int(ld, g, "server.rate", "messages_per_second", false, 1, 100000, &cfg->rate_mps);
        get_int(ld, g, "server.rate", "burst", false, 1, 100000, &cfg->rate_burst);
    }
    if ((g = get_seq(ld, s, "server", "allowed_origins", false))) {
        int n = config_setting_length(g);
        cfg->allowed_origins = sb_calloc((size_t)n, sizeof(char *));
        for (int i = 0; i < n; i++) {
            config_setting_t *e = config_setting_get_elem(g, (unsigned)i);
            char label[48];
            const char *v;

            snprintf(label, sizeof(label), "allowed_origins[%d]", i);
            if (!(v = str_value(ld, e, "server", label)))
                continue;
            if (!valid_origin(v)) {
                err_at(ld, e, "server: %s \"%s\" is not an origin (scheme://host[:port], "
                       "no path or trailing slash)", label, v);
                continue;
            }
            cfg->allowed_origins[cfg->nallowed_origins++] = sb_strdup(v);
        }
    }
    if (get_sha256(ld, s, "server", "admin_token_sha256", false, cfg->admin_token_sha256))
        cfg->has_admin_token = true;
    set_str(&cfg->web_root, get_str(ld, s, "server", "web_root", false));
    get_bool(ld, s, "server", "demo", &cfg->demo);
}

static void parse_store(loader_t *ld, const config_setting_t *root)
{
    static const char *const keys[] = { "engine", "path", "sync", "retain_days", NULL };
    static const char *const engines[] = { "sqlite", NULL };
    static const char *const syncs[] = { "full", "normal", NULL };
    sb_config_t *cfg = ld->cfg;
    config_setting_t *s = get_group(ld, root, "", "store", false);
    int engine = 0, sync = (int)cfg->store_sync;

    if (!s)
        return;
    check_keys(ld, s, "store", keys);
    if (get_enum(ld, s, "store", "engine", false, engines, &engine))
        set_str(&cfg->store_engine, engines[engine]);
    set_str(&cfg->store_path, get_str(ld, s, "store", "path", false));
    if (get_enum(ld, s, "store", "sync", false, syncs, &sync))
        cfg->store_sync = (sb_sync_t)sync;
    get_int(ld, s, "store", "retain_days", false, 0, 36500, &cfg->store_retain_days);
}

static void parse_routing(loader_t *ld, const config_setting_t *root)
{
    static const char *const keys[] = {
        "default_language", "detect_language", "wrap_up_s", "agent_grace_s",
        "max_missed_offers", "default_handle_s", "transcript_limit", NULL
    };
    sb_config_t *cfg = ld->cfg;
    config_setting_t *s = get_group(ld, root, "", "routing", false), *m;
    const char *v;

    if (s) {
        check_keys(ld, s, "routing", keys);
        m = member(ld, s, "routing", "default_language", false);
        if (m && (v = str_value(ld, m, "routing", "default_language"))) {
            int l = find_name(cfg->languages, cfg->nlanguages, v);
            if (l < 0)
                err_at(ld, m, "routing: default_language \"%s\" is not in languages", v);
            else
                cfg->default_language = l;
        }
        get_bool(ld, s, "routing", "detect_language", &cfg->detect_language);
        get_int(ld, s, "routing", "wrap_up_s", false, 0, MAX_SECONDS, &cfg->wrap_up_s);
        get_int(ld, s, "routing", "agent_grace_s", false, 0, MAX_SECONDS, &cfg->agent_grace_s);
        get_int(ld, s, "routing", "max_missed_offers", false, 1, 1000,
                &cfg->max_missed_offers);
        get_int(ld, s, "routing", "default_handle_s", false, 1, MAX_SECONDS,
                &cfg->default_handle_s);
        get_int(ld, s, "routing", "transcript_limit", false, 1, 100000,
                &cfg->transcript_limit);
    }
    /* Default: the first configured language. */
    if (cfg->default_language < 0 && cfg->nlanguages > 0)
        cfg->default_language = 0;
}

/* Label of list entry I: `pool "frontline"` when it has a usable id, else
 * `pools[I]`. */
static void entry_ctx(char *buf, size_t len, const char *kind, const char *list,
                      const char *id, int i)
{
    if (id)
        snprintf(buf, len, "%s \"%s\"", kind, id);
    else
        snprintf(buf, len, "%s[%d]", list, i);
}

typedef struct keyed {
    const void *key;     /* a string, or 32 hash bytes */
    size_t index;
} keyed_t;

static int keyed_cmp_str(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int keyed_cmp_hash(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    int c = memcmp(x->key, y->key, 32);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* For N keys (strings, or 32-byte hashes when HASH; NULL keys are skipped),
 * a new array giving for each index the index of the first equal key before
 * it, or SIZE_MAX when it is the first of its kind. O(n log n), for files
 * with many thousands of agents. */
static size_t *find_duplicates(const void *const *keys, size_t n, bool hash)
{
    keyed_t *k = sb_calloc(n, sizeof(*k));
    size_t *first = sb_calloc(n, sizeof(*first)), m = 0;
    int (*cmp)(const void *, const void *) = hash ? keyed_cmp_hash : keyed_cmp_str;

    for (size_t i = 0; i < n; i++) {
        first[i] = SIZE_MAX;
        if (keys[i])
            k[m++] = (keyed_t){ keys[i], i };
    }
    if (m > 1)
        qsort(k, m, sizeof(*k), cmp);
    for (size_t a = 0, b; a < m; a = b)
        for (b = a + 1; b < m && (hash ? memcmp(k[a].key, k[b].key, 32)
                                       : strcmp(k[a].key, k[b].key)) == 0; b++)
            first[k[b].index] = k[a].index;
    free(k);
    return first;
}

/* Reads the ids of a list of groups into *IDS (NULL where missing or bad),
 * reporting entries that are not groups, missing ids and duplicates. */
static void parse_ids(loader_t *ld, const config_setting_t *seq, const char *list,
                      const char *kind, char ***ids, size_t *n)
{
    const char **found;
    size_t *first;

    *n = (size_t)config_setting_length(seq);
    *ids = sb_calloc(*n, sizeof(char *));
    found = sb_calloc(*n, sizeof(char *));
    for (size_t i = 0; i < *n; i++) {
        config_setting_t *e = config_setting_get_elem(seq, (unsigned)i);
        char ctx[64];

        snprintf(ctx, sizeof(ctx), "%s[%zu]", list, i);
        if (is_type(ld, e, "", ctx, CONFIG_TYPE_GROUP))
            found[i] = get_str(ld, e, ctx, "id", true);
    }
    first = find_duplicates((const void *const *)found, *n, false);
    for (size_t i = 0; i < *n; i++) {
        if (!found[i])
            continue;
        if (first[i] != SIZE_MAX) {
            config_setting_t *e = config_setting_get_elem(seq, (unsigned)i);
            err_at(ld, config_setting_get_member(e, "id"),
                   "duplicate %s id \"%s\" (first defined at line %u)", kind, found[i],
                   config_setting_source_line(config_setting_get_elem(seq, (unsigned)first[i])));
            continue;
        }
        (*ids)[i] = sb_strdup(found[i]);
    }
    free(first);
    free(found);
}

/* Reports every entry I of list SEQ whose HASHES[I] (NULL: none) repeats an
 * earlier one's: two agents with one token, two connectors with one key. */
static void report_same_hash(loader_t *ld, const config_setting_t *seq, const void *const *hashes,
                             size_t n, const char *kind, const char *list, const char *key,
                             char *const *ids)
{
    size_t *first = find_duplicates(hashes, n, true);

    for (size_t i = 0; i < n; i++) {
        char ctx[160];
        if (first[i] == SIZE_MAX)
            continue;
        entry_ctx(ctx, sizeof(ctx), kind, list, ids[i], (int)i);
        err_at(ld, config_setting_get_member(config_setting_get_elem(seq, (unsigned)i), key),
               "%s: %s is the same as %s \"%s\"'s: each needs its own secret", ctx, key, kind,
               ids[first[i]] ? ids[first[i]] : "?");
    }
    free(first);
}

static void sort_steps(sb_cfg_step_t *steps, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        sb_cfg_step_t s = steps[i];
        size_t j = i;
        while (j > 0 && steps[j - 1].after_s > s.after_s) {
            steps[j] = steps[j - 1];
            j--;
        }
        steps[j] = s;
    }
}

static void parse_pool(loader_t *ld, const config_setting_t *g, sb_cfg_pool_t *p, int index)
{
    static const char *const keys[] = {
        "id", "tier", "strategy", "accept", "offer_timeout_s", "max_wait_s", "overflow",
        "escalate_to", "sla_first_response_s", "steps", NULL
    };
    static const char *const step_keys[] = { "after_s", "relax_skill_levels", NULL };
    static const char *const strategies[] = {
        [SB_STRATEGY_LONGEST_IDLE] = "longest_idle", [SB_STRATEGY_LEAST_BUSY] = "least_busy",
        [SB_STRATEGY_ROUND_ROBIN] = "round_robin", [SB_STRATEGY_BEST_SKILL] = "best_skill", NULL
    };
    static const char *const accepts[] = {
        [SB_ACCEPT_DIRECT] = "direct", [SB_ACCEPT_OFFER] = "offer", NULL
    };
    char ctx[160];
    int e, target;
    config_setting_t *steps;

    entry_ctx(ctx, sizeof(ctx), "pool", "pools", p->id, index);
    check_keys(ld, g, ctx, keys);
    get_int(ld, g, ctx, "tier", false, 0, 100, &p->tier);
    e = (int)p->strategy;
    if (get_enum(ld, g, ctx, "strategy", false, strategies, &e))
        p->strategy = (sb_strategy_t)e;
    e = (int)p->accept;
    if (get_enum(ld, g, ctx, "accept", false, accepts, &e))
        p->accept = (sb_accept_t)e;
    get_int(ld, g, ctx, "offer_timeout_s", false, 1, 3600, &p->offer_timeout_s);
    get_int(ld, g, ctx, "max_wait_s", false, 0, MAX_SECONDS, &p->max_wait_s);
    get_int(ld, g, ctx, "sla_first_response_s", false, 1, MAX_SECONDS,
            &p->sla_first_response_s);
    if (get_pool_ref(ld, g, ctx, "overflow", false, &target)) {
        if (target == index)
            err_at(ld, config_setting_get_member(g, "overflow"),
                   "%s: overflow must name another pool, not itself", ctx);
        else
            p->overflow = target;
    }
    if (get_pool_ref(ld, g, ctx, "escalate_to", false, &target)) {
        if (target == index)
            err_at(ld, config_setting_get_member(g, "escalate_to"),
                   "%s: escalate_to must name another pool, not itself", ctx);
        else
            p->escalate_to = target;
    }
    if ((steps = get_seq(ld, g, ctx, "steps", false))) {
        int n = config_setting_length(steps);
        p->steps = sb_calloc((size_t)n, sizeof(*p->steps));
        for (int i = 0; i < n; i++) {
            config_setting_t *s = config_setting_get_elem(steps, (unsigned)i);
            char sctx[200];
            sb_cfg_step_t st = { 0, 0 };

            snprintf(sctx, sizeof(sctx), "%s: steps[%d]", ctx, i);
            if (!is_type(ld, s, "", sctx, CONFIG_TYPE_GROUP))
                continue;
            check_keys(ld, s, sctx, step_keys);
            /* both read before the test: report both when both are wrong */
            bool after_ok = get_int(ld, s, sctx, "after_s", true, 0, MAX_SECONDS, &st.after_s);
            bool relax_ok = get_int(ld, s, sctx, "relax_skill_levels", true, 0, MAX_LEVEL,
                                    &st.relax_skill_levels);
            if (after_ok && relax_ok)
                p->steps[p->nsteps++] = st;
        }
        sort_steps(p->steps, p->nsteps);
    }
}

static void parse_pools(loader_t *ld, config_setting_t *seq)
{
    sb_config_t *cfg = ld->cfg;

    for (size_t i = 0; i < cfg->npools; i++) {
        config_setting_t *g = config_setting_get_elem(seq, (unsigned)i);
        if (!config_setting_is_group(g))
            continue;       /* reported by the id pass */
        cfg->pools[i].line = (int)config_setting_source_line(g);
        parse_pool(ld, g, &cfg->pools[i], (int)i);
    }
}

static void parse_topic(loader_t *ld, const config_setting_t *g, sb_cfg_topic_t *t, int index)
{
    static const char *const keys[] = { "id", "pool", "skills", "priority", NULL };
    sb_config_t *cfg = ld->cfg;
    config_setting_t *skills;
    char ctx[160];

    entry_ctx(ctx, sizeof(ctx), "topic", "topics", t->id, index);
    check_keys(ld, g, ctx, keys);
    t->pool = -1;   /* default_pool, filled in once that is read */
    get_pool_ref(ld, g, ctx, "pool", false, &t->pool);
    get_int(ld, g, ctx, "priority", false, -1000, 1000, &t->priority);
    if ((skills = get_group(ld, g, ctx, "skills", false))) {
        uint8_t *levels = sb_calloc(cfg->nskills, 1);
        bool *set = sb_calloc(cfg->nskills, sizeof(bool));
        int n = config_setting_length(skills);

        parse_levels(ld, skills, ctx, "skill", cfg->skills, cfg->nskills, levels);
        /* Keep the requirements in the order written. */
        t->skills = sb_calloc((size_t)n, sizeof(*t->skills));
        for (int i = 0; i < n; i++) {
            const char *name = config_setting_name(config_setting_get_elem(skills, (unsigned)i));
            int k = find_name(cfg->skills, cfg->nskills, name);
            if (k < 0 || set[k])
                continue;
            set[k] = true;
            t->skills[t->nskills++] = (sb_skill_req_t){ k, levels[k] };
        }
        free(set);
        free(levels);
    }
}

/* Agent INDEX of the list; true when its token was read. */
static bool parse_agent(loader_t *ld, const config_setting_t *g, sb_cfg_agent_t *a, int index)
{
    static const char *const keys[] = {
        "id", "name", "role", "token_sha256", "pools", "languages", "skills", "capacity", NULL
    };
    static const char *const cap_keys[] = { "chat", "voice", NULL };
    static const char *const roles[] = {
        [SB_ROLE_AGENT] = "agent", [SB_ROLE_BOT] = "bot", [SB_ROLE_SUPERVISOR] = "supervisor",
        NULL
    };
    sb_config_t *cfg = ld->cfg;
    config_setting_t *m;
    char ctx[160];
    int role = (int)a->role;
    bool has_token;

    entry_ctx(ctx, sizeof(ctx), "agent", "agents", a->id, index);
    check_keys(ld, g, ctx, keys);
    set_str(&a->name, get_str(ld, g, ctx, "name", false));
    if (!a->name)
        a->name = sb_strdup(a->id);
    if (get_enum(ld, g, ctx, "role", false, roles, &role))
        a->role = (sb_role_t)role;
    has_token = get_sha256(ld, g, ctx, "token_sha256", true, a->token_sha256);

    if ((m = get_seq(ld, g, ctx, "pools", true))) {
        int n = config_setting_length(m);
        if (n == 0)
            err_at(ld, m, "%s: pools must name at least one pool", ctx);
        a->pools = sb_calloc((size_t)n, sizeof(int));
        for (int i = 0; i < n; i++) {
            config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
            char label[32];
            const char *v;
            int p;
            bool dup = false;

            snprintf(label, sizeof(label), "pools[%d]", i);
            if (!(v = str_value(ld, e, ctx, label)))
                continue;
            if ((p = find_pool(cfg, v)) < 0) {
                err_at(ld, e, "%s: pools: \"%s\" is not a configured pool", ctx, v);
                continue;
            }
            for (size_t j = 0; j < a->npools; j++)
                dup |= a->pools[j] == p;
            if (dup) {
                err_at(ld, e, "%s: pools: \"%s\" is listed twice", ctx, v);
                continue;
            }
            a->pools[a->npools++] = p;
        }
    }

    a->languages = sb_calloc(cfg->nlanguages, 1);
    if ((m = get_group(ld, g, ctx, "languages", true))) {
        size_t before = ld->nerrs;
        if (parse_levels(ld, m, ctx, "language", cfg->languages, cfg->nlanguages,
                         a->languages) == 0 && ld->nerrs == before)
            err_at(ld, m, "%s: languages must give at least one language a level of 1-10",
                   ctx);
    }

    a->skills = sb_calloc(cfg->nskills, 1);
    if ((m = get_group(ld, g, ctx, "skills", false)))
        parse_levels(ld, m, ctx, "skill", cfg->skills, cfg->nskills, a->skills);

    if ((m = get_group(ld, g, ctx, "capacity", false))) {
        char cctx[200];
        snprintf(cctx, sizeof(cctx), "%s: capacity", ctx);
        check_keys(ld, m, cctx, cap_keys);
        get_int(ld, m, cctx, "chat", false, 0, 1000, &a->cap_chat);
        get_int(ld, m, cctx, "voice", false, 0, 1000, &a->cap_voice);
    }
    return has_token;
}

static void parse_escalation(loader_t *ld, const config_setting_t *root)
{
    static const char *const keys[] = {
        "max_per_conversation", "bot_fallbacks", "phrases", NULL
    };
    static const char *const phrase_keys[] = { "language", "match", "kind", "to", NULL };
    static const char *const kinds[] = {
        [SB_ESC_FUNCTIONAL] = "functional", [SB_ESC_HIERARCHICAL] = "hierarchical", NULL
    };
    sb_config_t *cfg = ld->cfg;
    config_setting_t *s = get_group(ld, root, "", "escalation", false), *seq;
    int n;

    if (!s)
        return;
    check_keys(ld, s, "escalation", keys);
    get_int(ld, s, "escalation", "max_per_conversation", false, 1, 100,
            &cfg->esc_max_per_conversation);
    get_int(ld, s, "escalation", "bot_fallbacks", false, 1, 100, &cfg->esc_bot_fallbacks);
    if (!(seq = get_seq(ld, s, "escalation", "phrases", false)))
        return;
    n = config_setting_length(seq);
    cfg->phrases = sb_calloc((size_t)n, sizeof(*cfg->phrases));
    for (int i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(seq, (unsigned)i), *m;
        sb_cfg_phrase_rule_t *r = &cfg->phrases[cfg->nphrases++];
        char ctx[64];
        const char *v;
        int kind = -1;

        *r = (sb_cfg_phrase_rule_t){ .language = -1, .to = -1 };
        snprintf(ctx, sizeof(ctx), "escalation.phrases[%d]", i);
        if (!is_type(ld, g, "", ctx, CONFIG_TYPE_GROUP))
            continue;
        r->line = (int)config_setting_source_line(g);
        check_keys(ld, g, ctx, phrase_keys);
        m = member(ld, g, ctx, "language", true);
        if (m && (v = str_value(ld, m, ctx, "language"))) {
            r->language = find_name(cfg->languages, cfg->nlanguages, v);
            if (r->language < 0)
                err_at(ld, m, "%s: language \"%s\" is not in languages", ctx, v);
        }
        if ((m = get_seq(ld, g, ctx, "match", true))) {
            int k = config_setting_length(m);
            if (k == 0)
                err_at(ld, m, "%s: match must hold at least one phrase", ctx);
            r->match = sb_calloc((size_t)k, sizeof(char *));
            for (int j = 0; j < k; j++) {
                char label[32];
                snprintf(label, sizeof(label), "match[%d]", j);
                v = str_value(ld, config_setting_get_elem(m, (unsigned)j), ctx, label);
                if (v)
                    r->match[r->nmatch++] = sb_strdup(v);
            }
        }
        if (get_enum(ld, g, ctx, "kind", true, kinds, &kind))
            r->kind = (sb_esc_kind_t)kind;
        if (kind == SB_ESC_FUNCTIONAL || kind < 0) {
            /* With a bad kind, still check what `to` names. */
            get_pool_ref(ld, g, ctx, "to", kind >= 0, &r->to);
        } else if (kind == SB_ESC_HIERARCHICAL && (m = config_setting_get_member(g, "to"))) {
            err_at(ld, m, "%s: \"to\" is only for functional escalation; hierarchical "
                   "escalation goes to the pool's escalate_to", ctx);
        }
    }
}

static void parse_connectors(loader_t *ld, const config_setting_t *ch)
{
    static const char *const keys[] = { "id", "key_sha256", "channels", NULL };
    sb_cfg_channels_t *c = &ld->cfg->channels;
    config_setting_t *seq = get_seq(ld, ch, "channels", "connectors", false);
    char **ids;
    const void **hashes;
    size_t n;

    if (!seq)
        return;
    parse_ids(ld, seq, "channels.connectors", "connector", &ids, &n);
    c->connectors = sb_calloc(n, sizeof(*c->connectors));
    c->nconnectors = n;
    hashes = sb_calloc(n, sizeof(*hashes));
    for (size_t i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(seq, (unsigned)i), *m;
        sb_cfg_connector_t *k = &c->connectors[i];
        char ctx[160];

        k->id = ids[i];
        ids[i] = NULL;
        if (!config_setting_is_group(g))
            continue;
        k->line = (int)config_setting_source_line(g);
        entry_ctx(ctx, sizeof(ctx), "connector", "channels.connectors", k->id, (int)i);
        check_keys(ld, g, ctx, keys);
        if (get_sha256(ld, g, ctx, "key_sha256", true, k->key_sha256))
            hashes[i] = k->key_sha256;
        if ((m = get_seq(ld, g, ctx, "channels", true))) {
            int nc = config_setting_length(m);
            if (nc == 0)
                err_at(ld, m, "%s: channels must name at least one channel", ctx);
            k->channels = sb_calloc((size_t)nc, sizeof(char *));
            for (int j = 0; j < nc; j++) {
                char label[32];
                const char *v;
                snprintf(label, sizeof(label), "channels[%d]", j);
                v = str_value(ld, config_setting_get_elem(m, (unsigned)j), ctx, label);
                if (v)
                    k->channels[k->nchannels++] = sb_strdup(v);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = c->connectors[i].id;
    report_same_hash(ld, seq, hashes, n, "connector", "channels.connectors", "key_sha256", ids);
    free(hashes);
    free(ids);
}

/* voice.account_sid ("AC" + 32 hex digits) and voice.caller_id (E.164):
 * optional, both needed for callback calls through the Calls API. */
static void get_voice_ids(loader_t *ld, const config_setting_t *g, const char *ctx,
                          sb_cfg_channels_t *c)
{
    config_setting_t *s;
    const char *v;
    size_t n;

    if ((v = get_str(ld, g, ctx, "account_sid", false))) {
        s = config_setting_get_member(g, "account_sid");
        n = strlen(v);
        bool ok = n == 34 && v[0] == 'A' && v[1] == 'C';
        for (size_t i = 2; ok && i < n; i++)
            ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f') ||
                 (v[i] >= 'A' && v[i] <= 'F');
        if (!ok)
            err_at(ld, s, "%s: account_sid must be \"AC\" and 32 hex digits", ctx);
        else
            set_str(&c->vo_account_sid, v);
    }
    if ((v = get_str(ld, g, ctx, "caller_id", false))) {
        s = config_setting_get_member(g, "caller_id");
        n = strlen(v);
        bool ok = n >= 8 && n <= 16 && v[0] == '+' && v[1] >= '1' && v[1] <= '9';
        for (size_t i = 2; ok && i < n; i++)
            ok = v[i] >= '0' && v[i] <= '9';
        if (!ok)
            err_at(ld, s, "%s: caller_id must be an E.164 number (\"+15551234567\")", ctx);
        else
            set_str(&c->vo_caller_id, v);
    }
}

static void parse_channels(loader_t *ld, const config_setting_t *root)
{
    static const char *const keys[] = {
        "whatsapp", "messenger", "telegram", "voice", "connectors",
        "outbox_max_age_s", "outbox_concurrency", "outbox_retry_base_ms",
        "outbox_retry_max_s", "outbox_timeout_s", NULL
    };
    static const char *const wa_keys[] = {
        "app_secret", "verify_token", "access_token", "phone_number_id", "api_base", "pool", NULL
    };
    static const char *const ms_keys[] = {
        "app_secret", "verify_token", "page_access_token", "api_base", "pool", NULL
    };
    static const char *const tg_keys[] = {
        "secret_token", "bot_token", "api_base", "pool", NULL
    };
    static const char *const vo_keys[] = {
        "auth_token", "public_url", "api_base", "pool", "account_sid", "caller_id", NULL
    };
    sb_cfg_channels_t *c = &ld->cfg->channels;
    config_setting_t *ch = get_group(ld, root, "", "channels", false), *g;
    const char *x;

    if (!ch)
        return;
    check_keys(ld, ch, "channels", keys);

    if ((g = get_group(ld, ch, "channels", "whatsapp", false))) {
        x = "channels.whatsapp";
        c->whatsapp = true;
        check_keys(ld, g, x, wa_keys);
        set_str(&c->wa_app_secret, get_str(ld, g, x, "app_secret", true));
        set_str(&c->wa_verify_token, get_str(ld, g, x, "verify_token", true));
        set_str(&c->wa_access_token, get_str(ld, g, x, "access_token", true));
        set_str(&c->wa_phone_number_id, get_str(ld, g, x, "phone_number_id", true));
        c->wa_api_base = sb_strdup(DEF_GRAPH_API_BASE);
        get_url(ld, g, x, "api_base", false, &c->wa_api_base);
        get_pool_ref(ld, g, x, "pool", false, &c->wa_pool);
    }
    if ((g = get_group(ld, ch, "channels", "messenger", false))) {
        x = "channels.messenger";
        c->messenger = true;
        check_keys(ld, g, x, ms_keys);
        set_str(&c->ms_app_secret, get_str(ld, g, x, "app_secret", true));
        set_str(&c->ms_verify_token, get_str(ld, g, x, "verify_token", true));
        set_str(&c->ms_page_access_token, get_str(ld, g, x, "page_access_token", true));
        c->ms_api_base = sb_strdup(DEF_GRAPH_API_BASE);
        get_url(ld, g, x, "api_base", false, &c->ms_api_base);
        get_pool_ref(ld, g, x, "pool", false, &c->ms_pool);
    }
    if ((g = get_group(ld, ch, "channels", "telegram", false))) {
        x = "channels.telegram";
        c->telegram = true;
        check_keys(ld, g, x, tg_keys);
        set_str(&c->tg_secret_token, get_str(ld, g, x, "secret_token", true));
        set_str(&c->tg_bot_token, get_str(ld, g, x, "bot_token", true));
        c->tg_api_base = sb_strdup(DEF_TELEGRAM_API);
        get_url(ld, g, x, "api_base", false, &c->tg_api_base);
        get_pool_ref(ld, g, x, "pool", false, &c->tg_pool);
    }
    if ((g = get_group(ld, ch, "channels", "voice", false))) {
        x = "channels.voice";
        c->voice = true;
        check_keys(ld, g, x, vo_keys);
        set_str(&c->vo_auth_token, get_str(ld, g, x, "auth_token", true));
        get_url(ld, g, x, "public_url", true, &c->vo_public_url);
        c->vo_api_base = sb_strdup(DEF_VOICE_API);
        get_url(ld, g, x, "api_base", false, &c->vo_api_base);
        get_pool_ref(ld, g, x, "pool", false, &c->vo_pool);
        get_voice_ids(ld, g, x, c);
    }
    parse_connectors(ld, ch);
    get_int(ld, ch, "channels", "outbox_max_age_s", false, 1, 30 * 86400, &c->outbox_max_age_s);
    get_int(ld, ch, "channels", "outbox_concurrency", false, 1, 1000, &c->outbox_concurrency);
    get_int(ld, ch, "channels", "outbox_retry_base_ms", false, 1, 3600000,
            &c->outbox_retry_base_ms);
    get_int(ld, ch, "channels", "outbox_retry_max_s", false, 1, 86400, &c->outbox_retry_max_s);
    get_int(ld, ch, "channels", "outbox_timeout_s", false, 1, 600, &c->outbox_timeout_s);
}

static void parse_templates(loader_t *ld, const config_setting_t *root)
{
    sb_config_t *cfg = ld->cfg;
    config_setting_t *s = get_group(ld, root, "", "templates", false);
    int n;

    if (!s)
        return;
    n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        config_setting_t *lang = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(lang);
        int l = find_name(cfg->languages, cfg->nlanguages, name), k;
        char ctx[80];

        snprintf(ctx, sizeof(ctx), "templates.%s", name);
        if (l < 0) {
            err_at(ld, lang, "templates: \"%s\" is not in languages", name);
            continue;
        }
        if (!is_type(ld, lang, "templates", name, CONFIG_TYPE_GROUP))
            continue;
        k = config_setting_length(lang);
        for (int j = 0; j < k; j++) {
            config_setting_t *t = config_setting_get_elem(lang, (unsigned)j);
            const char *key = config_setting_name(t);
            int tpl = -1;

            for (int x = 0; x < SB_TPL__COUNT; x++)
                if (strcmp(sb_tpl_names[x], key) == 0)
                    tpl = x;
            if (tpl < 0) {
                char list[256];
                size_t used = 0;
                list[0] = '\0';
                for (int x = 0; x < SB_TPL__COUNT && used < sizeof(list); x++) {
                    int w = snprintf(list + used, sizeof(list) - used, "%s%s",
                                     x ? ", " : "", sb_tpl_names[x]);
                    if (w > 0)
                        used += (size_t)w;
                }
                err_at(ld, t, "%s: unknown template \"%s\" (known: %s)", ctx, key, list);
                continue;
            }
            /* Templates may be empty strings; only the type is checked. */
            if (!is_type(ld, t, ctx, key, CONFIG_TYPE_STRING))
                continue;
            set_str(&cfg->templates[l][tpl], config_setting_get_string(t));
        }
    }
}

/* ------------------------------------------------------------------ */
/* The whole file.                                                    */

static void parse_root(loader_t *ld, const config_setting_t *root)
{
    static const char *const keys[] = {
        "server", "store", "routing", "skills", "languages", "topics", "default_pool",
        "pools", "agents", "escalation", "channels", "templates", NULL
    };
    sb_config_t *cfg = ld->cfg;
    config_setting_t *pools, *topics, *agents;
    char **ids = NULL;
    size_t n = 0;

    check_keys(ld, root, "", keys);

    /* Names first: every other section refers to them. */
    parse_names(ld, root, "skills", false, &cfg->skills, &cfg->nskills);
    parse_names(ld, root, "languages", true, &cfg->languages, &cfg->nlanguages);
    cfg->templates = sb_calloc(cfg->nlanguages, sizeof(*cfg->templates));
    if ((pools = get_seq(ld, root, "", "pools", true))) {
        parse_ids(ld, pools, "pools", "pool", &ids, &n);
        cfg->pools = sb_calloc(n, sizeof(*cfg->pools));
        cfg->npools = n;
        for (size_t i = 0; i < n; i++) {
            cfg->pools[i] = pool_defaults;
            cfg->pools[i].id = ids[i];
        }
        free(ids);
        if (n == 0)
            err_at(ld, pools, "pools must define at least one pool");
    }

    parse_server(ld, root);
    parse_store(ld, root);
    parse_routing(ld, root);
    if (pools)
        parse_pools(ld, pools);
    if (config_setting_get_member(root, "default_pool") || cfg->npools > 0)
        get_pool_ref(ld, root, "", "default_pool", true, &cfg->default_pool);

    if ((topics = get_seq(ld, root, "", "topics", false))) {
        parse_ids(ld, topics, "topics", "topic", &ids, &n);
        cfg->topics = sb_calloc(n, sizeof(*cfg->topics));
        cfg->ntopics = n;
        for (size_t i = 0; i < n; i++) {
            config_setting_t *g = config_setting_get_elem(topics, (unsigned)i);
            sb_cfg_topic_t *t = &cfg->topics[i];
            t->id = ids[i];
            t->pool = -1;
            if (!config_setting_is_group(g))
                continue;
            t->line = (int)config_setting_source_line(g);
            parse_topic(ld, g, t, (int)i);
            if (t->pool < 0)
                t->pool = cfg->default_pool;
        }
        free(ids);
    }

    if ((agents = get_seq(ld, root, "", "agents", false))) {
        const void **tokens;
        parse_ids(ld, agents, "agents", "agent", &ids, &n);
        cfg->agents = sb_calloc(n, sizeof(*cfg->agents));
        cfg->nagents = n;
        tokens = sb_calloc(n, sizeof(*tokens));
        for (size_t i = 0; i < n; i++) {
            config_setting_t *g = config_setting_get_elem(agents, (unsigned)i);
            sb_cfg_agent_t *a = &cfg->agents[i];
            *a = agent_defaults;
            a->id = ids[i];
            if (!config_setting_is_group(g))
                continue;
            a->line = (int)config_setting_source_line(g);
            if (parse_agent(ld, g, a, (int)i))
                tokens[i] = a->token_sha256;
        }
        report_same_hash(ld, agents, tokens, n, "agent", "agents", "token_sha256", ids);
        free(tokens);
        free(ids);
    }

    parse_escalation(ld, root);
    parse_channels(ld, root);
    parse_templates(ld, root);
}

/* The directory of PATH, for @include. New string. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return sb_strdup(".");
    if (slash == path)
        return sb_strdup("/");
    return sb_strndup(path, (size_t)(slash - path));
}

sb_config_t *sb_config_load(const char *path, char *err, size_t errlen)
{
    loader_t ld = { .path = path };
    sb_config_t *cfg = NULL;
    config_t lc;
    char *dir = NULL;
    FILE *f;

    if (err && errlen)
        err[0] = '\0';
    if (!path) {
        if (err && errlen)
            snprintf(err, errlen, "(null):0: no configuration file given");
        return NULL;
    }
    /* libconfig says only "file I/O error": open it once to say why. */
    if (!(f = fopen(path, "r"))) {
        if (err && errlen)
            snprintf(err, errlen, "%s:0: cannot read the file: %s", path, strerror(errno));
        return NULL;
    }
    fclose(f);

    config_init(&lc);
    dir = dir_of(path);
    ld.dir = dir;
    config_set_include_dir(&lc, dir);
    if (!config_read_file(&lc, path)) {
        const char *file = config_error_file(&lc);
        err_line(&ld, file ? file : path, config_error_line(&lc), "%s",
                 config_error_text(&lc) ? config_error_text(&lc) : "cannot parse the file");
        goto fail;
    }

    cfg = sb_calloc(1, sizeof(*cfg));
    cfg->path = sb_strdup(path);
    config_defaults(cfg);
    ld.cfg = cfg;
    parse_root(&ld, config_root_setting(&lc));
    if (ld.nerrs > 0)
        goto fail;

    config_destroy(&lc);
    free(dir);
    errors_free(&ld);
    return cfg;

fail:
    errors_write(&ld, err, errlen);
    errors_free(&ld);
    config_destroy(&lc);
    free(dir);
    sb_config_free(cfg);
    return NULL;
}

/* ------------------------------------------------------------------ */

static void free_strings(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void sb_config_free(sb_config_t *cfg)
{
    sb_cfg_channels_t *c;

    if (!cfg)
        return;
    c = &cfg->channels;
    free(cfg->path);
    free(cfg->listen_host);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free_strings(cfg->allowed_origins, cfg->nallowed_origins);
    free(cfg->web_root);
    free(cfg->store_engine);
    free(cfg->store_path);

    for (size_t i = 0; i < cfg->ntopics; i++) {
        free(cfg->topics[i].id);
        free(cfg->topics[i].skills);
    }
    free(cfg->topics);
    for (size_t i = 0; i < cfg->npools; i++) {
        free(cfg->pools[i].id);
        free(cfg->pools[i].steps);
    }
    free(cfg->pools);
    for (size_t i = 0; i < cfg->nagents; i++) {
        sb_cfg_agent_t *a = &cfg->agents[i];
        free(a->id);
        free(a->name);
        free(a->pools);
        free(a->languages);
        free(a->skills);
    }
    free(cfg->agents);
    for (size_t i = 0; i < cfg->nphrases; i++)
        free_strings(cfg->phrases[i].match, cfg->phrases[i].nmatch);
    free(cfg->phrases);

    free(c->vo_account_sid);
    free(c->vo_caller_id);
    free(c->wa_app_secret);
    free(c->wa_verify_token);
    free(c->wa_access_token);
    free(c->wa_phone_number_id);
    free(c->wa_api_base);
    free(c->ms_app_secret);
    free(c->ms_verify_token);
    free(c->ms_page_access_token);
    free(c->ms_api_base);
    free(c->tg_secret_token);
    free(c->tg_bot_token);
    free(c->tg_api_base);
    free(c->vo_auth_token);
    free(c->vo_public_url);
    free(c->vo_api_base);
    for (size_t i = 0; i < c->nconnectors; i++) {
        free(c->connectors[i].id);
        free_strings(c->connectors[i].channels, c->connectors[i].nchannels);
    }
    free(c->connectors);

    if (cfg->templates)
        for (size_t i = 0; i < cfg->nlanguages; i++)
            for (int k = 0; k < SB_TPL__COUNT; k++)
                free(cfg->templates[i][k]);
    free(cfg->templates);
    free_strings(cfg->skills, cfg->nskills);
    free_strings(cfg->languages, cfg->nlanguages);
    free(cfg);
}
