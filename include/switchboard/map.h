/*
 * map.h - a small open-addressing hash map from NUL-terminated string keys to
 * pointers: the core's id lookups (conversations, agents), the store's
 * unfiled messages.
 *
 * Keys are borrowed: the caller keeps each key alive (and unchanged) while it
 * is in the map (the core uses the id stored in the object itself). Linear
 * probing; a removal shifts the entries behind it back (no tombstones, so
 * churn never forces a rebuild); the table doubles at 50% load.
 */
#ifndef SWITCHBOARD_MAP_H
#define SWITCHBOARD_MAP_H

#include <stddef.h>

typedef struct sb_map_slot {
    const char *key;    /* NULL = empty */
    void *value;
    size_t hash;
} sb_map_slot_t;

typedef struct sb_map {
    sb_map_slot_t *slots;
    size_t cap;         /* power of two, or 0 before the first insert */
    size_t count;       /* live entries */
} sb_map_t;

/* Initializes an empty map; cannot fail (allocates on first insert). */
void sb_map_init(sb_map_t *m);
/* Frees the table (not the keys or values); accepts an initialized empty map. */
void sb_map_free(sb_map_t *m);
/* The value for key, or NULL. */
void *sb_map_get(const sb_map_t *m, const char *key);
/* Inserts key -> value. Returns 0, or -1 when key is already present (the
 * map is unchanged). Aborts on out-of-memory, like sb_malloc. */
int sb_map_put(sb_map_t *m, const char *key, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *sb_map_del(sb_map_t *m, const char *key);

#endif
