/*
 * template.h - customer-notice rendering: "{name}" placeholders replaced by
 * values. Pure; no configuration access.
 */
#ifndef SB_CORE_TEMPLATE_H
#define SB_CORE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

/* One placeholder: name without braces, and its value (NULL renders as ""). */
typedef struct core_tpl_var {
    const char *name;
    const char *value;
} core_tpl_var_t;

/*
 * Returns a new string (free with free()): tpl with every "{name}" whose name
 * is in vars replaced by its value. Unknown placeholders and unmatched braces
 * are copied as they are. tpl NULL renders as "". Cannot fail (aborts on
 * out-of-memory).
 */
char *core__render(const char *tpl, const core_tpl_var_t *vars, size_t nvars);

/*
 * A template parsed once for a fixed list of placeholder names, then
 * rendered with values for them many times (queue notices go to every
 * waiting customer whose place changed): the same text as core__render
 * gives, without parsing again.
 */
#define CORE_TPL_MAX_VARS 8

typedef struct core_tpl_seg {
    const char *lit;        /* literal text (in src), or NULL for a placeholder */
    size_t len;
    int var;                /* placeholder: index into the names; -1 literal */
} core_tpl_seg_t;

typedef struct core_tpl {
    bool compiled;          /* false: never compiled (zeroed) */
    const char *src;        /* borrowed: the template text it was parsed from */
    const char *names[CORE_TPL_MAX_VARS];
    size_t nnames;
    core_tpl_seg_t *segs;
    size_t nsegs, cap;
    size_t lit_len;         /* the literal segments' total length */
    unsigned uses;          /* bit i: names[i] appears */
} core_tpl_t;

/* Parses src (borrowed: must outlive t, NULL renders as "") for names (at
 * most CORE_TPL_MAX_VARS; borrowed). Cannot fail (aborts on out-of-memory). */
void core__tpl_compile(core_tpl_t *t, const char *src, const char *const *names,
                       size_t nnames);
/* Whether t was compiled from src for names, in that order. */
bool core__tpl_matches(const core_tpl_t *t, const char *src, const char *const *names,
                       size_t nnames);
/* Renders t with vars (the names it was compiled for, in that order): a new
 * string (free with free()). Cannot fail. */
char *core__tpl_render(const core_tpl_t *t, const core_tpl_var_t *vars);
/* The same with values[i] of lens[i] bytes for names[i]; only those in
 * t->uses are read. */
char *core__tpl_render_n(const core_tpl_t *t, const char *const *values, const size_t *lens);
/* Frees t's segments and leaves it empty (not compiled). */
void core__tpl_free(core_tpl_t *t);

/* Writes the "{eta}" text for eta_s: whole minutes rounded up, at least 1,
 * as "N min"; returns its length. */
size_t core__eta_text(int eta_s, char *buf, size_t len);

/* Writes v in decimal into buf (at least 21 bytes). */
void core__itoa(long long v, char *buf);
/* The same for an unsigned value; returns the number of digits. */
size_t core__utoa(unsigned long long v, char *buf);

#endif
