/*
 * timer.c - the core's deadline heap (see timer.h).
 */
#include "timer.h"

#include <stdlib.h>
#include <string.h>

void core__heap_init(core_heap_t *h)
{
    memset(h, 0, sizeof(*h));
}

void core__heap_free(core_heap_t *h)
{
    for (size_t i = 0; i < h->count; i++)
        h->items[i].t->slot = 0;
    free(h->items);
    memset(h, 0, sizeof(*h));
}

void core__timer_init(core_timer_t *t, int kind, void *owner)
{
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->owner = owner;
}

static int before(const core_heap_item_t *a, const core_heap_item_t *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void place(core_heap_t *h, size_t i, const core_heap_item_t *it)
{
    h->items[i] = *it;
    it->t->slot = i + 1;
}

static void sift_up(core_heap_t *h, size_t i)
{
    core_heap_item_t it = h->items[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&it, &h->items[p]))
            break;
        place(h, i, &h->items[p]);
        i = p;
    }
    place(h, i, &it);
}

static void sift_down(core_heap_t *h, size_t i)
{
    core_heap_item_t it = h->items[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const core_heap_item_t *best = &it;
        if (l < h->count && before(&h->items[l], best)) {
            m = l;
            best = &h->items[l];
        }
        if (r < h->count && before(&h->items[r], best))
            m = r;
        if (m == i)
            break;
        place(h, i, &h->items[m]);
        i = m;
    }
    place(h, i, &it);
}

void core__timer_cancel(core_heap_t *h, core_timer_t *t)
{
    size_t i;
    core_heap_item_t last;

    if (!t->slot)
        return;
    i = t->slot - 1;
    t->slot = 0;
    last = h->items[--h->count];
    if (i == h->count)
        return;
    place(h, i, &last);
    if (i > 0 && before(&last, &h->items[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

void core__timer_arm(core_heap_t *h, core_timer_t *t, sb_ms_t at)
{
    core__timer_cancel(h, t);
    if (h->count == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->items = sb_realloc(h->items, h->cap * sizeof(*h->items));
    }
    t->at = at;
    t->order = h->next_order++;
    h->items[h->count].at = at;
    h->items[h->count].order = t->order;
    h->items[h->count].t = t;
    t->slot = ++h->count;
    sift_up(h, h->count - 1);
}

core_timer_t *core__heap_top(const core_heap_t *h)
{
    return h->count ? h->items[0].t : NULL;
}
