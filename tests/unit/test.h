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

#ifdef SB_SOURCE_DIR
/* The whole of tests/unit/vectors/<name>, NUL-terminated (free()); exits
 * when it cannot be read. */
static inline char *test_vector(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    long n;
    char *buf;

    snprintf(path, sizeof(path), "%s/tests/unit/vectors/%s", SB_SOURCE_DIR, name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}
#endif

/* Runs one test function and says so. */
#define RUN(fn) do { fprintf(stderr, "-- %s\n", #fn); fn(); } while (0)

#endif
