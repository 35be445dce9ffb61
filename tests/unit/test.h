/*
 * test.h - a tiny assert header for unit tests (after libuv test/task.h).
 * A failed check prints file:line and the expression, and exits 1.
 */
#ifndef SB_TEST_H
#define SB_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr) do { \
    if (!(expr)) { \
        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
        exit(1); \
    } } while (0)

#define CHECK_EQ_INT(a, b) do { \
    long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { \
        fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", \
                __FILE__, __LINE__, #a, #b, a_, b_); \
        exit(1); \
    } } while (0)

#define CHECK_EQ_STR(a, b) do { \
    const char *a_ = (a), *b_ = (b); \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) { \
        fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
                __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
        exit(1); \
    } } while (0)

#define CHECK_CONTAINS(hay, needle) do { \
    const char *h_ = (hay), *n_ = (needle); \
    if (!h_ || !strstr(h_, n_)) { \
        fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", \
                __FILE__, __LINE__, h_ ? h_ : "(null)", n_); \
        exit(1); \
    } } while (0)

/* Runs one test function and says so. */
#define RUN(fn) do { fprintf(stderr, "-- %s\n", #fn); fn(); } while (0)

#endif
