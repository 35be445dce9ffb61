/*
 * timer.h - every deadline of the core in one binary min-heap.
 *
 * A timer is embedded in its owner (conversation, agent, pool) like an
 * lws_sul: arming an armed timer moves it, cancelling an idle one is a no-op,
 * and the owner cancels its timers before it is freed. Ties fire in the order
 * they were armed, so a run is deterministic.
 */
#ifndef SB_CORE_TIMER_H
#define SB_CORE_TIMER_H

#include "switchboard/common.h"

typedef struct core_timer {
    sb_ms_t at;
    uint64_t order;     /* arming order, breaks ties */
    size_t slot;        /* index in the heap + 1; 0 = not armed */
    int kind;           /* what to do when it fires (the core's enum) */
    void *owner;
} core_timer_t;

/* A heap slot carries its timer's key, so sifting compares within the
 * array instead of visiting every timer it passes. */
typedef struct core_heap_item {
    sb_ms_t at;
    uint64_t order;
    core_timer_t *t;
} core_heap_item_t;

typedef struct core_heap {
    core_heap_item_t *items;
    size_t count, cap;
    uint64_t next_order;
} core_heap_t;

void core__heap_init(core_heap_t *h);
/* Frees the array; the timers belong to their owners. */
void core__heap_free(core_heap_t *h);
/* Sets t's kind and owner once; does not arm it. */
void core__timer_init(core_timer_t *t, int kind, void *owner);
/* Arms (or re-arms) t at `at`. Cannot fail (aborts on out-of-memory). */
void core__timer_arm(core_heap_t *h, core_timer_t *t, sb_ms_t at);
/* Disarms t; a no-op when it is not armed. */
void core__timer_cancel(core_heap_t *h, core_timer_t *t);
static inline int core__timer_armed(const core_timer_t *t) { return t->slot != 0; }
/* The earliest timer, or NULL. */
core_timer_t *core__heap_top(const core_heap_t *h);

#endif
