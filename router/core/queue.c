/*
 * queue.c - order-statistic treap (see queue.h).
 */
#include "queue.h"

#include <string.h>

void core__queue_init(core_queue_t *q, uint64_t seed)
{
    q->root = NULL;
    q->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint32_t next_rand(core_queue_t *q)
{
    uint64_t x = q->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    q->rng = x;
    return (uint32_t)(x >> 32);
}

int core__queue_cmp(const core_qnode_t *a, const core_qnode_t *b)
{
    if (a->front != b->front)
        return a->front > b->front ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->arrival != b->arrival)
        return a->arrival < b->arrival ? -1 : 1;
    if (a->ticket != b->ticket)
        return a->ticket < b->ticket ? -1 : 1;
    return 0;
}

static void update(core_qnode_t *t)
{
    t->size = 1;
    t->min_arrival = t->arrival;
    if (t->left) {
        t->size += t->left->size;
        if (t->left->min_arrival < t->min_arrival)
            t->min_arrival = t->left->min_arrival;
    }
    if (t->right) {
        t->size += t->right->size;
        if (t->right->min_arrival < t->min_arrival)
            t->min_arrival = t->right->min_arrival;
    }
}

/* Splits t into nodes before k (*l) and the rest (*r); with `after`, nodes
 * equal to k go left too. */
static void split(core_qnode_t *t, const core_qnode_t *k, int after,
                  core_qnode_t **l, core_qnode_t **r)
{
    if (!t) {
        *l = *r = NULL;
        return;
    }
    int c = core__queue_cmp(t, k);
    if (c < 0 || (after && c == 0)) {
        split(t->right, k, after, &t->right, r);
        *l = t;
    } else {
        split(t->left, k, after, l, &t->left);
        *r = t;
    }
    update(t);
}

static core_qnode_t *merge(core_qnode_t *l, core_qnode_t *r)
{
    if (!l)
        return r;
    if (!r)
        return l;
    if (l->prio > r->prio) {
        l->right = merge(l->right, r);
        update(l);
        return l;
    }
    r->left = merge(l, r->left);
    update(r);
    return r;
}

/* Inserts n into t: down the search path while the nodes there have a
 * higher heap priority, then n takes the place and splits what was below.
 * One path, where split-and-merge twice walked three. */
static core_qnode_t *insert(core_qnode_t *t, core_qnode_t *n)
{
    if (!t)
        return n;
    if (n->prio > t->prio) {
        split(t, n, 0, &n->left, &n->right);
        update(n);
        return n;
    }
    if (core__queue_cmp(n, t) < 0)
        t->left = insert(t->left, n);
    else
        t->right = insert(t->right, n);
    update(t);
    return t;
}

/* Removes n (which is in t): down to it, then its two subtrees merge into
 * its place. */
static core_qnode_t *erase(core_qnode_t *t, const core_qnode_t *n)
{
    int c;

    if (!t)
        return NULL;
    c = core__queue_cmp(n, t);
    if (c == 0)
        return merge(t->left, t->right);
    if (c < 0)
        t->left = erase(t->left, n);
    else
        t->right = erase(t->right, n);
    update(t);
    return t;
}

void core__queue_insert(core_queue_t *q, core_qnode_t *n)
{
    n->left = n->right = NULL;
    n->prio = next_rand(q);
    n->queued = 1;
    update(n);
    q->root = insert(q->root, n);
}

void core__queue_remove(core_queue_t *q, core_qnode_t *n)
{
    q->root = erase(q->root, n);
    n->left = n->right = NULL;
    n->queued = 0;
}

size_t core__queue_rank(const core_queue_t *q, const core_qnode_t *n)
{
    size_t before = 0;
    const core_qnode_t *t = q->root;

    while (t) {
        int c = core__queue_cmp(n, t);
        if (c == 0)
            return before + (t->left ? t->left->size : 0) + 1;
        if (c < 0) {
            t = t->left;
        } else {
            before += 1 + (t->left ? t->left->size : 0);
            t = t->right;
        }
    }
    return 0;
}

core_qnode_t *core__queue_first(const core_queue_t *q)
{
    core_qnode_t *t = q->root;
    while (t && t->left)
        t = t->left;
    return t;
}

core_qnode_t *core__queue_next(const core_queue_t *q, const core_qnode_t *n)
{
    core_qnode_t *t = q->root, *best = NULL;

    while (t) {
        if (core__queue_cmp(t, n) > 0) {
            best = t;
            t = t->left;
        } else {
            t = t->right;
        }
    }
    return best;
}

/* In-order walks fetch the right subtree while they go down the left one:
 * the nodes live in their conversations, far apart in memory. */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

static int walk(core_qnode_t *t, int (*fn)(core_qnode_t *, void *), void *ctx)
{
    if (!t)
        return 0;
    PREFETCH(t->right);
    if (walk(t->left, fn, ctx))
        return 1;
    if (fn(t, ctx))
        return 1;
    return walk(t->right, fn, ctx);
}

void core__queue_walk(const core_queue_t *q, int (*fn)(core_qnode_t *n, void *ctx),
                      void *ctx)
{
    walk(q->root, fn, ctx);
}

static int walk_from(core_qnode_t *t, size_t skip, int (*fn)(core_qnode_t *, void *), void *ctx)
{
    size_t left;

    if (!t)
        return 0;
    PREFETCH(t->right);
    left = t->left ? t->left->size : 0;
    if (skip < left) {
        if (walk_from(t->left, skip, fn, ctx))
            return 1;
        skip = 0;
    } else {
        skip -= left;       /* the whole left subtree is before the start */
    }
    if (skip == 0) {
        if (fn(t, ctx))
            return 1;
    } else {
        skip--;
    }
    return walk_from(t->right, skip, fn, ctx);
}

void core__queue_walk_from(const core_queue_t *q, size_t skip,
                           int (*fn)(core_qnode_t *n, void *ctx), void *ctx)
{
    walk_from(q->root, skip, fn, ctx);
}
