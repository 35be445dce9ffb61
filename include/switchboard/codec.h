/*
 * codec.h - JSON at the edge: validating request fields and encoding the
 * core's objects for the wire (protocol.md sections 2-4).
 */
#ifndef SWITCHBOARD_CODEC_H
#define SWITCHBOARD_CODEC_H

#include "switchboard/core.h"
#include "switchboard/text.h"

#include <jansson.h>
#include <stdint.h>

/*
 * Parses one frame: a UTF-8 JSON object with a string "type" and an
 * optional "ref" (string, 1-64 chars). Returns a new reference, or NULL with
 * *code ("bad_json", "bad_request") and msg filled. *type and *ref borrow
 * from the returned object (*ref may be NULL). When the frame parsed but is
 * rejected, *ref still carries a usable ref when there was one (copied into
 * refbuf), so the error can echo it.
 */
json_t *sb_codec_parse(const char *buf, size_t len, const char **type, const char **ref,
                       char refbuf[65], const char **code, char *msg, size_t msglen);

/*
 * Field readers: 0 when absent (and *out untouched) or valid, SB_EINVAL with
 * msg "field 'x' must be ..." when present with the wrong type (or missing
 * and required).
 */
int sb_codec_str(json_t *obj, const char *field, bool required, const char **out,
                 char *msg, size_t msglen);
int sb_codec_bool(json_t *obj, const char *field, bool *out, char *msg, size_t msglen);
int sb_codec_int(json_t *obj, const char *field, bool required, int64_t *out,
                 char *msg, size_t msglen);
/* A flat object of strings/numbers/booleans (hello.attributes). */
int sb_codec_flat_object(json_t *obj, const char *field, json_t **out,
                         char *msg, size_t msglen);
/* A skills object {"billing":5}: names must be configured skills, levels 0-10.
 * *out is allocated (free()); *n its length. */
int sb_codec_skills(const sb_config_t *cfg, json_t *obj, const char *field,
                    sb_skill_req_t **out, size_t *n, bool *present, char *msg, size_t msglen);

/* Encoders; each returns a new reference. */
json_t *sb_codec_message(const sb_conv_t *conv, const sb_message_t *m);
/* The context envelope (protocol.md 4.5): the last `limit` messages (0: the
 * configured routing.transcript_limit; SIZE_MAX: all), with
 * "transcript_total" and "transcript_first_seq" telling what was left out. */
json_t *sb_codec_context(const sb_config_t *cfg, const sb_conv_t *conv, size_t limit);
json_t *sb_codec_agent(const sb_config_t *cfg, const sb_agent_t *agent);

/* The hot frames (message, ok) are written straight to text (text.h)
 * without a jansson tree: the same bytes json_dumps writes with
 * JSON_COMPACT (tests/unit/test_codec.c holds the two together). */

/*
 * The hot request (a "message" frame) read without a jansson tree: a flat
 * JSON object whose values are all strings (no escapes) or booleans, at most
 * SB_FLAT_MAX fields, no key twice. sb_codec_scan reads buf in place (it
 * writes the strings' NUL terminators into it) and returns 0, or -1 for any
 * frame it does not take; such a frame goes through sb_codec_parse, which
 * accepts or refuses it with the reason. What sb_codec_scan accepts,
 * sb_codec_parse reads the same (tests/unit/test_codec.c).
 */
#define SB_FLAT_MAX 8
typedef struct sb_flat {
    size_t n;
    struct {
        const char *key;
        const char *str;           /* NULL for a boolean */
        size_t len;
        bool boolean;
    } f[SB_FLAT_MAX];
} sb_flat_t;

int sb_codec_scan(char *buf, size_t len, sb_flat_t *out);
/* 0: absent; 1: a string (*str, *len); 2: a boolean (*b). */
int sb_flat_get(const sb_flat_t *f, const char *key, const char **str, size_t *len, bool *b);
/* The frame's "ref" as sb_codec_parse checks it: 0 with *ref (NULL when
 * absent), -1 when it is not a string of 1 to 64 bytes. */
int sb_flat_ref(const sb_flat_t *f, const char **ref);

/* Appends what sb_codec_message encodes. */
void sb_codec_message_text(sb_text_t *t, const sb_conv_t *conv, const sb_message_t *m);

#endif
