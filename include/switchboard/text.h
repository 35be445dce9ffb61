/*
 * text.h - a growing, NUL-terminated text buffer: what the router writes
 * without a library (the hot JSON frames, URLs and forms for the platforms,
 * TwiML, rendered templates).
 */
#ifndef SWITCHBOARD_TEXT_H
#define SWITCHBOARD_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sb_text {
    char *buf;                     /* NUL-terminated; NULL before the first write */
    size_t len, cap;
} sb_text_t;

/* Empties t, keeping its memory. */
void sb_text_reset(sb_text_t *t);
/* Frees t's memory; t is empty again. */
void sb_text_free(sb_text_t *t);
void sb_text_raw(sb_text_t *t, const char *s, size_t n);
void sb_text_cat(sb_text_t *t, const char *s);
/* A string literal, its length known at compile time. */
#define SB_TEXT_LIT(t, lit) sb_text_raw((t), (lit), sizeof(lit) - 1)
void sb_text_int(sb_text_t *t, int64_t v);
/* s as a JSON string, or null when s is NULL: what json_dumps writes without
 * JSON_ENSURE_ASCII / JSON_ESCAPE_SLASH (quote, backslash and control
 * characters escaped, UTF-8 kept as it is; tests/unit/test_codec.c). */
void sb_text_jstr(sb_text_t *t, const char *s);

#endif
