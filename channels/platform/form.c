/*
 * form.c - application/x-www-form-urlencoded bodies and query strings
 * (Twilio's POST parameters, the Meta verify handshake), and the list of
 * name/value pairs they decode to.
 */
#include "switchboard/platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAIRS 1000

sb_platform_params_t *sb_platform_params_new(void)
{
    return sb_calloc(1, sizeof(sb_platform_params_t));
}

/* Appends a pair, taking ownership of name and value. */
static void params_push(sb_platform_params_t *p, char *name, char *value)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->items = sb_realloc(p->items, p->cap * sizeof(*p->items));
    }
    p->items[p->n].name = name;
    p->items[p->n].value = value;
    p->n++;
}

void sb_platform_params_add(sb_platform_params_t *params, const char *name, const char *value)
{
    params_push(params, sb_strdup(name ? name : ""), sb_strdup(value ? value : ""));
}

const char *sb_platform_params_get(const sb_platform_params_t *params, const char *name)
{
    if (!params || !name)
        return NULL;
    for (size_t i = 0; i < params->n; i++)
        if (strcmp(params->items[i].name, name) == 0)
            return params->items[i].value;
    return NULL;
}

void sb_platform_params_free(sb_platform_params_t *params)
{
    if (!params)
        return;
    for (size_t i = 0; i < params->n; i++) {
        free(params->items[i].name);
        free(params->items[i].value);
    }
    free(params->items);
    free(params);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes s[0..n) ('+' is a space, %XX a byte) into a new string. NULL when
 * an escape is malformed or decodes to NUL; *bad is then the offending offset.
 */
static char *decode(const char *s, size_t n, size_t *bad)
{
    char *out = sb_malloc(n + 1), *o = out;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%') {
            int hi = n - i >= 3 ? hexval(s[i + 1]) : -1;
            int lo = n - i >= 3 ? hexval(s[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                *bad = i;
                free(out);
                return NULL;
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '\0') {
            *bad = i;
            free(out);
            return NULL;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

int sb_platform_form_parse(const char *s, size_t len, sb_platform_params_t **out,
                           char *err, size_t errlen)
{
    sb_platform_params_t *p;
    size_t i = 0;

    *out = NULL;
    if (!s)
        len = 0;
    if (len > 0 && s[0] == '?')
        i = 1;
    p = sb_platform_params_new();
    while (i < len) {
        const char *piece = s + i, *amp = memchr(piece, '&', len - i);
        size_t plen = amp ? (size_t)(amp - piece) : len - i;
        const char *eq = memchr(piece, '=', plen);
        size_t nlen = eq ? (size_t)(eq - piece) : plen, bad = 0;
        char *name, *value;

        i += plen + 1;
        if (plen == 0)
            continue;
        if (p->n == MAX_PAIRS) {
            if (err && errlen)
                snprintf(err, errlen, "more than %d parameters", MAX_PAIRS);
            goto fail;
        }
        name = decode(piece, nlen, &bad);
        if (!name) {
            if (err && errlen)
                snprintf(err, errlen, "bad escape in a parameter name at offset %zu",
                         (size_t)(piece - s) + bad);
            goto fail;
        }
        value = eq ? decode(eq + 1, plen - nlen - 1, &bad) : sb_strdup("");
        if (!value) {
            if (err && errlen)
                snprintf(err, errlen, "bad escape in the value of '%s' at offset %zu",
                         name, (size_t)(eq + 1 - s) + bad);
            free(name);
            goto fail;
        }
        params_push(p, name, value);
    }
    *out = p;
    return 0;

fail:
    sb_platform_params_free(p);
    return SB_EINVAL;
}
