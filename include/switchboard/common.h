/*
 * common.h - what every switchboard module shares: error codes, time, logging.
 *
 * Functions return 0 or a negative SB_E* code; constructors return a pointer
 * or NULL. Times are milliseconds since the Unix epoch (sb_ms_t), always
 * passed in by the caller: nothing below the hub reads a clock.
 */
#ifndef SWITCHBOARD_COMMON_H
#define SWITCHBOARD_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define SB_VERSION "0.1.0"

typedef int64_t sb_ms_t;
#define SB_NEVER INT64_MAX

/* Error codes. Each maps to one protocol error code (sb_strerror_code). */
enum {
    SB_OK          = 0,
    SB_ENOMEM      = -1,  /* "unavailable" */
    SB_EINVAL      = -2,  /* "bad_request" */
    SB_ENOTFOUND   = -3,  /* "not_found" */
    SB_EFORBIDDEN  = -4,  /* "forbidden" */
    SB_ECONFLICT   = -5,  /* "conflict" */
    SB_EUNAVAIL    = -6,  /* "unavailable": store or resource down */
    SB_EAUTH       = -7,  /* "unauthorized" */
    SB_ETOOLARGE   = -8,  /* "too_large" */
    SB_EIO         = -9,  /* "unavailable" */
    SB_ELIMIT      = -10, /* "rate_limited" */
};

/* The protocol error code (protocol.md section 1) for an SB_E* value. */
const char *sb_error_code(int err);
/* A short human description of an SB_E* value. */
const char *sb_strerror(int err);

/* Logging to stderr: "2026-11-22T07:05:43.123Z LEVEL message". */
typedef enum { SB_LOG_DEBUG, SB_LOG_INFO, SB_LOG_WARN, SB_LOG_ERROR } sb_log_level_t;
void sb_log_set_level(sb_log_level_t level);
void sb_log(sb_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define sb_debug(...) sb_log(SB_LOG_DEBUG, __VA_ARGS__)
#define sb_info(...)  sb_log(SB_LOG_INFO, __VA_ARGS__)
#define sb_warn(...)  sb_log(SB_LOG_WARN, __VA_ARGS__)
#define sb_error(...) sb_log(SB_LOG_ERROR, __VA_ARGS__)

/* Checked allocation helpers: abort with a message on out-of-memory, like
 * Redis zmalloc. Running out of memory in a router is not recoverable. */
void *sb_malloc(size_t n);
void *sb_calloc(size_t count, size_t n);
void *sb_realloc(void *p, size_t n);
char *sb_strdup(const char *s);       /* NULL in, NULL out */
char *sb_strndup(const char *s, size_t n);

#endif
