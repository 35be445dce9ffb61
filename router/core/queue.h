/*
 * queue.h - a waiting queue as an order-statistic treap: insert, remove and
 * 1-based position in O(log n) expected, in-order walks, and the earliest
 * arrival in the queue in O(1).
 *
 * Order: requeued-at-front entries first, then priority (higher first), then
 * arrival (earlier first), then ticket (creation order), so every key is
 * unique and the order is total and deterministic. The node is embedded in
 * its owner; the key must not change while the node is queued.
 */
#ifndef SB_CORE_QUEUE_H
#define SB_CORE_QUEUE_H

#include "switchboard/common.h"

typedef struct core_qnode {
    struct core_qnode *left, *right;
    uint32_t prio;          /* heap priority (random) */
    size_t size;            /* nodes in this subtree */
    sb_ms_t min_arrival;    /* smallest arrival in this subtree */
    /* key */
    int front;              /* 1 = requeued at the front */
    int priority;
    sb_ms_t arrival;
    uint64_t ticket;
    void *owner;
    int queued;             /* 1 while in a queue */
} core_qnode_t;

typedef struct core_queue {
    core_qnode_t *root;
    uint64_t rng;           /* xorshift state: deterministic */
} core_queue_t;

void core__queue_init(core_queue_t *q, uint64_t seed);
static inline size_t core__queue_length(const core_queue_t *q)
{
    return q->root ? q->root->size : 0;
}
/* Inserts n (its key fields set, not queued). Cannot fail. */
void core__queue_insert(core_queue_t *q, core_qnode_t *n);
/* Removes n, which must be in q. */
void core__queue_remove(core_queue_t *q, core_qnode_t *n);
/* 1-based position of n (which must be in q). */
size_t core__queue_rank(const core_queue_t *q, const core_qnode_t *n);
/* The first node, or NULL. */
core_qnode_t *core__queue_first(const core_queue_t *q);
/* The node after n (n need not be queued any more), or NULL. */
core_qnode_t *core__queue_next(const core_queue_t *q, const core_qnode_t *n);
/* Calls fn on every node in order until it returns nonzero. fn must not
 * change the queue. */
void core__queue_walk(const core_queue_t *q, int (*fn)(core_qnode_t *n, void *ctx),
                      void *ctx);
/* The same from the (skip + 1)-th node on, in O(log n) to get there. */
void core__queue_walk_from(const core_queue_t *q, size_t skip,
                           int (*fn)(core_qnode_t *n, void *ctx), void *ctx);
/* Negative when a comes first. */
int core__queue_cmp(const core_qnode_t *a, const core_qnode_t *b);

#endif
