/*
 * template.c - placeholder rendering (see template.h).
 */
#include "template.h"

#include "switchboard/common.h"
#include "switchboard/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *core__render(const char *tpl, const core_tpl_var_t *vars, size_t nvars)
{
    sb_text_t b = { 0 };

    sb_text_raw(&b, "", 0);
    if (!tpl)
        return b.buf;
    while (*tpl) {
        const char *open = strchr(tpl, '{');
        if (!open) {
            sb_text_cat(&b, tpl);
            break;
        }
        sb_text_raw(&b, tpl, (size_t)(open - tpl));
        const char *close = strchr(open + 1, '}');
        const char *nested = strchr(open + 1, '{');
        if (!close || (nested && nested < close)) {
            /* "{" without its "}" (or "{{"): copy the brace, go on after it */
            sb_text_raw(&b, open, 1);
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
                sb_text_cat(&b, v->value);
        } else {
            sb_text_raw(&b, open, nlen + 2);
        }
        tpl = close + 1;
    }
    return b.buf;
}

/* --- compiled templates -------------------------------------------------- */

static void seg_add(core_tpl_t *t, const char *lit, size_t len, int var)
{
    if (var < 0 && !len)
        return;
    if (var < 0 && t->nsegs && t->segs[t->nsegs - 1].var < 0 &&
        t->segs[t->nsegs - 1].lit + t->segs[t->nsegs - 1].len == lit) {
        t->segs[t->nsegs - 1].len += len;      /* adjacent literal text: one copy */
    } else {
        if (t->nsegs == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 8;
            t->segs = sb_realloc(t->segs, t->cap * sizeof(*t->segs));
        }
        t->segs[t->nsegs].lit = lit;
        t->segs[t->nsegs].len = len;
        t->segs[t->nsegs].var = var;
        t->nsegs++;
    }
    if (var < 0)
        t->lit_len += len;
}

/* Parses like core__render: "{name}" with a known name is a placeholder,
 * anything else (unknown names, a "{" without its "}" or before another
 * "{") is literal text. */
void core__tpl_compile(core_tpl_t *t, const char *src, const char *const *names,
                       size_t nnames)
{
    const char *tpl = src ? src : "";

    core__tpl_free(t);
    t->compiled = true;
    t->src = src;
    t->nnames = nnames > CORE_TPL_MAX_VARS ? CORE_TPL_MAX_VARS : nnames;
    for (size_t i = 0; i < t->nnames; i++)
        t->names[i] = names[i];
    while (*tpl) {
        const char *open = strchr(tpl, '{');
        if (!open) {
            seg_add(t, tpl, strlen(tpl), -1);
            break;
        }
        seg_add(t, tpl, (size_t)(open - tpl), -1);
        const char *close = strchr(open + 1, '}');
        const char *nested = strchr(open + 1, '{');
        if (!close || (nested && nested < close)) {
            seg_add(t, open, 1, -1);
            tpl = open + 1;
            continue;
        }
        size_t nlen = (size_t)(close - open - 1);
        int var = -1;
        for (size_t i = 0; i < t->nnames && var < 0; i++)
            if (strlen(names[i]) == nlen && memcmp(names[i], open + 1, nlen) == 0)
                var = (int)i;
        if (var >= 0) {
            seg_add(t, NULL, 0, var);
            t->uses |= 1u << var;
        }
        else
            seg_add(t, open, nlen + 2, -1);
        tpl = close + 1;
    }
}

bool core__tpl_matches(const core_tpl_t *t, const char *src, const char *const *names,
                       size_t nnames)
{
    if (!t->compiled || t->src != src || t->nnames != nnames)
        return false;
    for (size_t i = 0; i < nnames; i++)
        if (t->names[i] != names[i] && strcmp(t->names[i], names[i]) != 0)
            return false;
    return true;
}

char *core__tpl_render_n(const core_tpl_t *t, const char *const *values, const size_t *lens)
{
    size_t n = t->lit_len;
    char *out, *p;

    for (size_t i = 0; i < t->nsegs; i++)
        if (t->segs[i].var >= 0)
            n += lens[t->segs[i].var];
    p = out = sb_malloc(n + 1);
    for (size_t i = 0; i < t->nsegs; i++) {
        const core_tpl_seg_t *sg = &t->segs[i];
        const char *from = sg->var < 0 ? sg->lit : values[sg->var];
        size_t len = sg->var < 0 ? sg->len : lens[sg->var];
        if (len)
            memcpy(p, from, len);
        p += len;
    }
    *p = '\0';
    return out;
}

char *core__tpl_render(const core_tpl_t *t, const core_tpl_var_t *vars)
{
    const char *values[CORE_TPL_MAX_VARS];
    size_t lens[CORE_TPL_MAX_VARS];

    for (size_t i = 0; i < t->nnames; i++) {
        values[i] = vars[i].value;
        lens[i] = vars[i].value && (t->uses & (1u << i)) ? strlen(vars[i].value) : 0;
    }
    return core__tpl_render_n(t, values, lens);
}

void core__tpl_free(core_tpl_t *t)
{
    free(t->segs);
    memset(t, 0, sizeof(*t));
}

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

size_t core__utoa(unsigned long long u, char *buf)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    size_t n;

    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return n;
}

void core__itoa(long long v, char *buf)
{
    if (v < 0) {
        *buf++ = '-';
        core__utoa(0ULL - (unsigned long long)v, buf);
    } else {
        core__utoa((unsigned long long)v, buf);
    }
}

size_t core__eta_text(int eta_s, char *buf, size_t len)
{
    long long min = eta_s <= 0 ? 1 : ((long long)eta_s + 59) / 60;
    char num[32];
    size_t n;

    if (!len)
        return 0;
    n = core__utoa((unsigned long long)min, num);
    memcpy(num + n, " min", 5);
    n += 4;
    if (n >= len)
        n = len - 1;
    memcpy(buf, num, n);
    buf[n] = '\0';
    return n;
}
