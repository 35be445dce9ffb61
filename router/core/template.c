/*
 * template.c - placeholder rendering (see template.h).
 */
#include "template.h"

#include "switchboard/common.h"

#include <stdio.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 64;
        b->p = sb_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

char *core__render(const char *tpl, const core_tpl_var_t *vars, size_t nvars)
{
    buf_t b = { 0 };

    put(&b, "", 0);
    if (!tpl)
        return b.p;
    while (*tpl) {
        const char *open = strchr(tpl, '{');
        if (!open) {
            put(&b, tpl, strlen(tpl));
            break;
        }
        put(&b, tpl, (size_t)(open - tpl));
        const char *close = strchr(open + 1, '}');
        const char *nested = strchr(open + 1, '{');
        if (!close || (nested && nested < close)) {
            /* "{" without its "}" (or "{{"): copy the brace, go on after it */
            put(&b, open, 1);
            tpl = open + 1;
            continue;
        }
        size_t nlen = (size_t)(close - open - 1);
        const core_tpl_var_t *v = NULL;
        for (size_t i = 0; i < nvars; i++)
            if (strlen(vars[i].name) == nlen && memcmp(vars[i].name, open + 1, nlen) == 0) {
                v = &vars[i];
                break;
            }
        if (v) {
            if (v->value)
                put(&b, v->value, strlen(v->value));
        } else {
            put(&b, open, nlen + 2);
        }
        tpl = close + 1;
    }
    return b.p;
}

void core__itoa(long long v, char *buf)
{
    char tmp[24];
    size_t n = 0, i = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[i++] = '-';
    while (n)
        buf[i++] = tmp[--n];
    buf[i] = '\0';
}

void core__eta_text(int eta_s, char *buf, size_t len)
{
    int min = eta_s <= 0 ? 1 : (eta_s + 59) / 60;
    char num[24];

    if (min < 1)
        min = 1;
    core__itoa(min, num);
    snprintf(buf, len, "%s min", num);
}
