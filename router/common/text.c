/*
 * text.c - the growing text buffer (see text.h).
 */
#include "switchboard/text.h"

#include "switchboard/common.h"

#include <stdlib.h>
#include <string.h>

static void text_grow(sb_text_t *t, size_t more)
{
    if (t->len + more + 1 <= t->cap)
        return;
    t->cap = t->cap ? t->cap : 256;
    while (t->cap < t->len + more + 1)
        t->cap *= 2;
    t->buf = sb_realloc(t->buf, t->cap);
}

void sb_text_reset(sb_text_t *t)
{
    t->len = 0;
    if (t->buf)
        t->buf[0] = '\0';
}

void sb_text_free(sb_text_t *t)
{
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
}

void sb_text_cat(sb_text_t *t, const char *s)
{
    sb_text_raw(t, s, strlen(s));
}

void sb_text_raw(sb_text_t *t, const char *s, size_t n)
{
    text_grow(t, n);
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* As jansson's dump_string (see text.h). Runs of plain bytes are copied at
 * once. */
void sb_text_jstr(sb_text_t *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p, *run;

    if (!s) {
        SB_TEXT_LIT(t, "null");
        return;
    }
    text_grow(t, 2);
    t->buf[t->len++] = '"';
    for (p = run = (const unsigned char *)s;; p++) {
        unsigned char c = *p;
        char esc[6];
        size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (p > run)
            sb_text_raw(t, (const char *)run, (size_t)(p - run));
        if (c == '\0')
            break;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        sb_text_raw(t, esc, n);
        run = p + 1;
    }
    SB_TEXT_LIT(t, "\"");
}

void sb_text_int(sb_text_t *t, int64_t v)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sb_text_raw(t, p, (size_t)(tmp + sizeof(tmp) - p));
}

