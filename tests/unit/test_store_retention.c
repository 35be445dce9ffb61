/*
 * test_store_retention.c - store.retain_days: closed conversations older
 * than the cutoff go, with their messages, notes and events, a batch at a
 * time; open ones and recent closed ones stay.
 */
#include "switchboard/store.h"
#include "test.h"

#include <sqlite3.h>

static char *languages[] = { "en" };
static sb_cfg_pool_t pools[] = { { .id = "general", .overflow = -1, .escalate_to = -1 } };

static long long count(sb_store_t *st, const char *sql)
{
    sqlite3_stmt *q;
    long long n = -1;

    CHECK(sqlite3_prepare_v2(sb_store_sqlite_db(st), sql, -1, &q, NULL) == SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

/* A conversation with one message and one event at ts; closed or not. */
static void save(sb_store_t *st, const char *id, bool closed, sb_ms_t ts)
{
    sb_conv_t c;
    sb_message_t m = { .seq = 1, .from = SB_FROM_CUSTOMER, .text = "hi", .ts = ts };
    sb_event_t ev = { .kind = closed ? SB_EV_CLOSED : SB_EV_CREATED, .ts = ts, .pool = 0,
                      .from_pool = -1 };

    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "%s", id);
    strcpy(c.channel, "webchat");
    c.state = closed ? SB_CONV_CLOSED : SB_CONV_QUEUED;
    c.topic = -1;
    c.created_at = c.arrival = c.entered_pool_at = ts;
    c.msgs = &m;
    c.nmsgs = 1;
    c.last_seq = 1;
    c.history = &ev;
    c.nhistory = 1;
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, &m), 0);
    CHECK_EQ_INT(sb_store_append_event(st, &c, &ev), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
}

static void test_purge(void)
{
    sb_config_t cfg;
    sb_store_t *st;
    int err = 0, deleted = -1;
    char id[32];

    memset(&cfg, 0, sizeof(cfg));
    cfg.store_engine = "sqlite";
    cfg.store_path = ":memory:";
    cfg.languages = languages;
    cfg.nlanguages = 1;
    cfg.pools = pools;
    cfg.npools = 1;
    cfg.default_pool = 0;
    st = sb_store_open(&cfg, &err);
    CHECK(st != NULL);

    for (int i = 0; i < 5; i++) {            /* old and closed: to delete */
        snprintf(id, sizeof(id), "old-%d", i);
        save(st, id, true, 1000 + i);
    }
    save(st, "old-open", false, 1000);        /* old but open: stays */
    save(st, "recent", true, 50000);          /* closed after the cutoff: stays */

    /* inside a turn's transaction it refuses rather than interleave */
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK_EQ_INT(sb_store_purge_closed(st, 10000, 100, &deleted), SB_ECONFLICT);
    CHECK_EQ_INT(sb_store_rollback(st), 0);

    /* small batches: 2, 2, 1, then nothing */
    CHECK_EQ_INT(sb_store_purge_closed(st, 10000, 2, &deleted), 0);
    CHECK_EQ_INT(deleted, 2);
    CHECK_EQ_INT(sb_store_purge_closed(st, 10000, 2, &deleted), 0);
    CHECK_EQ_INT(deleted, 2);
    CHECK_EQ_INT(sb_store_purge_closed(st, 10000, 2, &deleted), 0);
    CHECK_EQ_INT(deleted, 1);
    CHECK_EQ_INT(sb_store_purge_closed(st, 10000, 2, &deleted), 0);
    CHECK_EQ_INT(deleted, 0);

    CHECK_EQ_INT(count(st, "SELECT count(*) FROM conversations"), 2);
    CHECK_EQ_INT(count(st, "SELECT count(*) FROM conversations WHERE id LIKE 'old-_'"), 0);
    CHECK_EQ_INT(count(st, "SELECT count(*) FROM messages"), 2);
    CHECK_EQ_INT(count(st, "SELECT count(*) FROM events"), 2);
    CHECK_EQ_INT(count(st, "SELECT count(*) FROM messages WHERE conversation_id = 'recent'"), 1);
    sb_store_close(st);
}

int main(void)
{
    RUN(test_purge);
    fprintf(stderr, "test_store_retention: all passed\n");
    return 0;
}
