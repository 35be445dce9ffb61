/*
 * map.c - open-addressing string hash map (see map.h).
 */
#include "switchboard/map.h"

#include "switchboard/common.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64-bit: short ids hash well and it needs no seed. */
static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

void sb_map_init(sb_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void sb_map_free(sb_map_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* The slot holding key, or NULL. */
static sb_map_slot_t *find(const sb_map_t *m, const char *key, size_t h)
{
    if (!m->cap)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sb_map_slot_t *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

static void grow(sb_map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    sb_map_slot_t *old = m->slots;
    size_t ocap = m->cap;

    m->slots = sb_calloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        sb_map_slot_t *s = &old[i];
        if (!s->key)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = *s;
    }
    free(old);
}

void *sb_map_get(const sb_map_t *m, const char *key)
{
    sb_map_slot_t *s = find(m, key, hash_str(key));
    return s ? s->value : NULL;
}

int sb_map_put(sb_map_t *m, const char *key, void *value)
{
    size_t h = hash_str(key);

    if (find(m, key, h))
        return -1;
    if ((m->count + 1) * 2 > m->cap)
        grow(m);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sb_map_slot_t *s = &m->slots[i];
        if (!s->key) {
            s->key = key;
            s->value = value;
            s->hash = h;
            m->count++;
            return 0;
        }
    }
}

/* Linear probing without tombstones: after a removal, the entries of the
 * cluster behind it that may move closer to their home slot do, so probe
 * sequences stay as short as the load allows and the table never needs a
 * rebuild for deletions. */
void *sb_map_del(sb_map_t *m, const char *key)
{
    sb_map_slot_t *s = find(m, key, hash_str(key));
    size_t mask, i, j;
    void *v;

    if (!s)
        return NULL;
    v = s->value;
    mask = m->cap - 1;
    i = (size_t)(s - m->slots);
    for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        /* the entry at j stays when its home lies cyclically in (i, j] */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = NULL;
    m->slots[i].value = NULL;
    m->count--;
    return v;
}
