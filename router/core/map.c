/*
 * map.c - open-addressing string hash map (see map.h).
 */
#include "map.h"

#include "switchboard/common.h"

#include <stdlib.h>
#include <string.h>

static const char tombstone_key[1];
#define TOMBSTONE ((const char *)tombstone_key)

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

void core__map_init(core_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void core__map_free(core_map_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* The slot holding key, or NULL. */
static core_map_slot_t *find(const core_map_t *m, const char *key, size_t h)
{
    if (!m->cap)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        core_map_slot_t *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

static void grow(core_map_t *m)
{
    size_t ncap = m->cap ? m->cap : 16;
    core_map_slot_t *old = m->slots;
    size_t ocap = m->cap;

    /* After a rehash live entries fill at most a quarter of the table, so
     * a table full of tombstones is rebuilt at its size, not doubled. */
    while ((m->count + 1) * 4 > ncap)
        ncap *= 2;
    m->slots = sb_calloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    m->used = 0;
    for (size_t i = 0; i < ocap; i++) {
        core_map_slot_t *s = &old[i];
        if (!s->key || s->key == TOMBSTONE)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = *s;
        m->used++;
    }
    free(old);
}

void *core__map_get(const core_map_t *m, const char *key)
{
    core_map_slot_t *s = find(m, key, hash_str(key));
    return s ? s->value : NULL;
}

int core__map_put(core_map_t *m, const char *key, void *value)
{
    size_t h = hash_str(key);

    if (find(m, key, h))
        return -1;
    if ((m->used + 1) * 2 > m->cap)
        grow(m);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        core_map_slot_t *s = &m->slots[i];
        if (!s->key || s->key == TOMBSTONE) {
            if (!s->key)
                m->used++;
            s->key = key;
            s->value = value;
            s->hash = h;
            m->count++;
            return 0;
        }
    }
}

void *core__map_del(core_map_t *m, const char *key)
{
    core_map_slot_t *s = find(m, key, hash_str(key));
    void *v;

    if (!s)
        return NULL;
    v = s->value;
    s->key = TOMBSTONE;
    s->value = NULL;
    m->count--;
    return v;
}
