/*
 * common.c - error names, logging and checked allocation.
 */
#include "switchboard/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sb_log_level_t log_level = SB_LOG_INFO;

const char *sb_error_code(int err)
{
    switch (err) {
    case SB_EINVAL:     return "bad_request";
    case SB_ENOTFOUND:  return "not_found";
    case SB_EFORBIDDEN: return "forbidden";
    case SB_ECONFLICT:  return "conflict";
    case SB_EAUTH:      return "unauthorized";
    case SB_ETOOLARGE:  return "too_large";
    case SB_ELIMIT:     return "rate_limited";
    case SB_ENOMEM:
    case SB_EUNAVAIL:
    case SB_EIO:
    default:            return "unavailable";
    }
}

const char *sb_strerror(int err)
{
    switch (err) {
    case SB_OK:         return "ok";
    case SB_ENOMEM:     return "out of memory";
    case SB_EINVAL:     return "invalid request";
    case SB_ENOTFOUND:  return "not found";
    case SB_EFORBIDDEN: return "not yours to act on";
    case SB_ECONFLICT:  return "conflicts with the conversation's state";
    case SB_EUNAVAIL:   return "temporarily unavailable";
    case SB_EAUTH:      return "authentication failed";
    case SB_ETOOLARGE:  return "too large";
    case SB_EIO:        return "storage error";
    case SB_ELIMIT:     return "rate limited";
    default:            return "unknown error";
    }
}

void sb_log_set_level(sb_log_level_t level)
{
    log_level = level;
}

void sb_log(sb_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    va_list ap;

    if (level < log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s ", stamp, ts.tv_nsec / 1000000L, names[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void oom(size_t n)
{
    fprintf(stderr, "switchboard: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sb_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *sb_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n);
    return p;
}

void *sb_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *sb_strdup(const char *s)
{
    return s ? sb_strndup(s, strlen(s)) : NULL;
}

char *sb_strndup(const char *s, size_t n)
{
    char *d;

    if (!s)
        return NULL;
    d = sb_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
