/*
 * template.h - customer-notice rendering: "{name}" placeholders replaced by
 * values. Pure; no configuration access.
 */
#ifndef SB_CORE_TEMPLATE_H
#define SB_CORE_TEMPLATE_H

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

/* Writes the "{eta}" text for eta_s: whole minutes rounded up, at least 1,
 * as "N min". */
void core__eta_text(int eta_s, char *buf, size_t len);

/* Writes v in decimal into buf (at least 21 bytes). */
void core__itoa(long long v, char *buf);

#endif
