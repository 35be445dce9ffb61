/*
 * test_store_outbox.c - the channel adapters' part of the store: the durable
 * outbox (idempotent put, update, pending rows read back in order across a
 * reopen, delivery reports that only move forward, Messenger watermarks),
 * inbound deduplication, a contact's open conversation, the migration of a
 * version 1 database, and retention taking the outbox rows along.
 */
#include "switchboard/store.h"
#include "test.h"

#include <sqlite3.h>
#include <unistd.h>

static char *languages_a[] = { "en" };
static sb_cfg_pool_t pools_a[] = { { .id = "general", .overflow = -1, .escalate_to = -1 } };

static sb_config_t make_config(const char *path)
{
    sb_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.store_engine = "sqlite";
    cfg.store_path = (char *)path;
    cfg.store_sync = SB_SYNC_NORMAL;
    cfg.languages = languages_a;
    cfg.nlanguages = 1;
    cfg.pools = pools_a;
    cfg.npools = 1;
    cfg.default_language = 0;
    cfg.default_pool = 0;
    return cfg;
}

static sb_store_t *open_store(const sb_config_t *cfg)
{
    int err = 0;
    sb_store_t *st = sb_store_open(cfg, &err);

    CHECK(st != NULL);
    CHECK_EQ_INT(err, 0);
    return st;
}

static long long query_ll(sb_store_t *st, const char *sql)
{
    sqlite3_stmt *q;
    long long v = -1;

    CHECK_EQ_INT(sqlite3_prepare_v2(sb_store_sqlite_db(st), sql, -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static sb_outbox_row_t row(int64_t id, const char *channel, const char *conv, uint64_t seq,
                           const char *contact, const char *text, sb_ms_t created)
{
    sb_outbox_row_t r;

    memset(&r, 0, sizeof(r));
    r.id = id;
    r.channel = channel;
    r.conversation_id = conv;
    r.seq = seq;
    r.kind = "message";
    r.contact_id = contact;
    r.text = text;
    r.state = "pending";
    r.next_attempt_at = created;
    r.created_at = r.updated_at = created;
    return r;
}

typedef struct seen_rows {
    int n;
    int64_t id[16];
    char state[16][16];
    char text[16][64];
    char platform_id[16][64];
    uint64_t seq[16];
    int attempts[16];
} seen_rows_t;

/* Deletes a database file and its WAL and shared-memory files. */
static void remove_db(const char *db)
{
    char side[600];

    unlink(db);
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
}

static int collect(void *arg, const sb_outbox_row_t *r)
{
    seen_rows_t *s = arg;

    CHECK(s->n < 16);
    s->id[s->n] = r->id;
    snprintf(s->state[s->n], sizeof(s->state[0]), "%s", r->state);
    snprintf(s->text[s->n], sizeof(s->text[0]), "%s", r->text ? r->text : "");
    snprintf(s->platform_id[s->n], sizeof(s->platform_id[0]), "%s",
             r->platform_id ? r->platform_id : "");
    s->seq[s->n] = r->seq;
    s->attempts[s->n] = r->attempts;
    s->n++;
    return 0;
}

static void test_outbox_put_update_load(void)
{
    char path[] = "/tmp/sb-test-outbox-XXXXXX";
    char db[64];
    int fd = mkstemp(path);
    sb_config_t cfg;
    sb_store_t *st;
    sb_outbox_row_t r;
    seen_rows_t seen = { .n = 0 };
    int64_t max = -1;

    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    snprintf(db, sizeof(db), "%s.db", path);
    cfg = make_config(db);
    st = open_store(&cfg);

    CHECK_EQ_INT(sb_store_outbox_max_id(st, &max), 0);
    CHECK_EQ_INT(max, 0);
    CHECK_EQ_INT(sb_store_begin(st), 0);
    r = row(1, "whatsapp", "c1", 2, "15551234567", "hello", 1000);
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);
    r = row(1, "whatsapp", "c1", 2, "15551234567", "a second put of id 1", 1000);
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);            /* idempotent: first wins */
    r = row(2, "whatsapp", "c1", 3, "15551234567", "second", 1001);
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);
    r = row(3, "line", "c2", 1, "U1", "to a connector", 1002);
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);

    /* 1 sent with the platform's id; 2 retried once. */
    CHECK_EQ_INT(sb_store_begin(st), 0);
    r = row(1, "whatsapp", "c1", 2, "15551234567", "hello", 1000);
    r.state = "sent";
    r.attempts = 1;
    r.platform_id = "wamid.A";
    r.updated_at = 1500;
    CHECK_EQ_INT(sb_store_outbox_update(st, &r), 0);
    r = row(2, "whatsapp", "c1", 3, "15551234567", "second", 1001);
    r.attempts = 1;
    r.next_attempt_at = 5000;
    r.error = "HTTP 503";
    CHECK_EQ_INT(sb_store_outbox_update(st, &r), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    CHECK_EQ_INT(sb_store_outbox_max_id(st, &max), 0);
    CHECK_EQ_INT(max, 3);

    /* A reopen (a restart) reads back what is still pending, in order. */
    sb_store_close(st);
    st = open_store(&cfg);
    CHECK_EQ_INT(sb_store_outbox_load(st, collect, &seen), 0);
    CHECK_EQ_INT(seen.n, 2);
    CHECK_EQ_INT(seen.id[0], 2);
    CHECK_EQ_INT(seen.attempts[0], 1);
    CHECK_EQ_STR(seen.text[0], "second");
    CHECK_EQ_INT(seen.id[1], 3);
    CHECK_EQ_STR(seen.text[1], "to a connector");
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM outbox WHERE text = 'hello'"), 1);
    CHECK_EQ_INT(query_ll(st, "SELECT next_attempt_at FROM outbox WHERE id = 2"), 5000);

    sb_store_close(st);
    remove_db(db);
}

static void test_outbox_mark(void)
{
    sb_config_t cfg = make_config(":memory:");
    sb_store_t *st = open_store(&cfg);
    sb_outbox_row_t r;
    seen_rows_t seen = { .n = 0 };

    r = row(1, "whatsapp", "c1", 2, "A", "one", 1000);
    r.state = "sent";
    r.platform_id = "wamid.1";
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);
    r = row(2, "messenger", "c2", 2, "PSID", "two", 1000);
    r.state = "sent";
    r.platform_id = "m_2";
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);
    r = row(3, "messenger", "c2", 3, "PSID", "three", 2000);
    r.state = "sent";
    r.platform_id = "m_3";
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);
    r = row(4, "messenger", "c2", 4, "PSID", "four, not sent yet", 2500);
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);

    /* Forward only: delivered, then read; a late "delivered" changes nothing. */
    CHECK_EQ_INT(sb_store_outbox_mark(st, "whatsapp", "wamid.1", NULL, 0, "delivered", NULL,
                                      3000, collect, &seen), 0);
    CHECK_EQ_INT(seen.n, 1);
    CHECK_EQ_STR(seen.state[0], "delivered");
    CHECK_EQ_INT(seen.seq[0], 2);
    CHECK_EQ_INT(sb_store_outbox_mark(st, "whatsapp", "wamid.1", NULL, 0, "read", NULL,
                                      3001, collect, &seen), 0);
    CHECK_EQ_INT(seen.n, 2);
    CHECK_EQ_STR(seen.state[1], "read");
    CHECK_EQ_INT(sb_store_outbox_mark(st, "whatsapp", "wamid.1", NULL, 0, "delivered", NULL,
                                      3002, collect, &seen), 0);
    CHECK_EQ_INT(sb_store_outbox_mark(st, "whatsapp", "wamid.1", NULL, 0, "failed", "late",
                                      3002, collect, &seen), 0);
    CHECK_EQ_INT(seen.n, 2);
    /* Another channel's id, an unknown id: nothing. */
    CHECK_EQ_INT(sb_store_outbox_mark(st, "telegram", "wamid.1", NULL, 0, "read", NULL,
                                      3003, collect, &seen), 0);
    CHECK_EQ_INT(sb_store_outbox_mark(st, "whatsapp", "wamid.X", NULL, 0, "read", NULL,
                                      3003, collect, &seen), 0);
    CHECK_EQ_INT(seen.n, 2);
    CHECK_EQ_INT(sb_store_outbox_mark(st, "whatsapp", "wamid.1", NULL, 0, "bogus", NULL,
                                      3003, collect, &seen), SB_EINVAL);

    /* Messenger watermark: every sent row to PSID created up to 2000. */
    CHECK_EQ_INT(sb_store_outbox_mark(st, "messenger", NULL, "PSID", 2000, "delivered", NULL,
                                      4000, collect, &seen), 0);
    CHECK_EQ_INT(seen.n, 4);
    CHECK(seen.id[2] + seen.id[3] == 5);     /* rows 2 and 3, not the pending 4 */
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM outbox WHERE state = 'pending'"), 1);

    /* failed from sent keeps the platform's words. */
    CHECK_EQ_INT(sb_store_outbox_mark(st, "messenger", "m_3", NULL, 0, "failed", "nope",
                                      5000, NULL, NULL), 0);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM outbox WHERE id = 3 AND state = 'delivered'"),
                 1);
    sb_store_close(st);
}

static void test_inbound_and_open_conv(void)
{
    sb_config_t cfg = make_config(":memory:");
    sb_store_t *st = open_store(&cfg);
    char id[40];
    uint64_t seq = 0;
    sb_conv_t c;

    CHECK_EQ_INT(sb_store_inbound_get(st, "whatsapp", "wamid.IN1", id, &seq), SB_ENOTFOUND);
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK_EQ_INT(sb_store_inbound_put(st, "whatsapp", "wamid.IN1", "c1", 1, 1000), 0);
    /* Visible inside the transaction that wrote it (two webhooks in one turn). */
    CHECK_EQ_INT(sb_store_inbound_get(st, "whatsapp", "wamid.IN1", id, &seq), 0);
    CHECK_EQ_STR(id, "c1");
    CHECK_EQ_INT(seq, 1);
    CHECK_EQ_INT(sb_store_inbound_put(st, "whatsapp", "wamid.IN1", "c9", 9, 2000), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    CHECK_EQ_INT(sb_store_inbound_get(st, "whatsapp", "wamid.IN1", id, &seq), 0);
    CHECK_EQ_STR(id, "c1");                        /* the first record wins */
    CHECK_EQ_INT(seq, 1);
    CHECK_EQ_INT(sb_store_inbound_get(st, "telegram", "wamid.IN1", id, &seq), SB_ENOTFOUND);

    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "conv-a");
    snprintf(c.channel, sizeof(c.channel), "telegram");
    c.state = SB_CONV_QUEUED;
    c.customer_contact = "42";
    c.created_at = c.arrival = c.entered_pool_at = 100;
    CHECK_EQ_INT(sb_store_find_open_conv(st, "telegram", "42", id), SB_ENOTFOUND);
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(sb_store_find_open_conv(st, "telegram", "42", id), 0);
    CHECK_EQ_STR(id, "conv-a");
    CHECK_EQ_INT(sb_store_find_open_conv(st, "whatsapp", "42", id), SB_ENOTFOUND);
    CHECK_EQ_INT(sb_store_find_open_conv(st, "telegram", "43", id), SB_ENOTFOUND);
    c.state = SB_CONV_CLOSED;
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(sb_store_find_open_conv(st, "telegram", "42", id), SB_ENOTFOUND);
    sb_store_close(st);
}

static int join_texts(void *arg, const sb_message_t *m)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, 256 - n, "%llu:%s ", (unsigned long long)m->seq, m->text);
    return 0;
}

/* A database made by a build with schema version 1 gets the new tables, and
 * its messages move into the log (version 3). */
static void test_migration_from_v1(void)
{
    char path[] = "/tmp/sb-test-outbox-mig-XXXXXX";
    char db[64];
    int fd = mkstemp(path);
    sqlite3 *raw;
    sb_config_t cfg;
    sb_store_t *st;
    char id[40], texts[256];
    uint64_t seq;

    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    snprintf(db, sizeof(db), "%s.db", path);
    CHECK_EQ_INT(sqlite3_open(db, &raw), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(raw,
        "CREATE TABLE conversations (id TEXT PRIMARY KEY NOT NULL, channel TEXT NOT NULL,"
        " media TEXT NOT NULL, state TEXT NOT NULL, language TEXT, topic TEXT, pool TEXT,"
        " agent_id TEXT, skills TEXT NOT NULL DEFAULT '{}', relaxed INTEGER NOT NULL DEFAULT 0,"
        " priority INTEGER NOT NULL DEFAULT 0, customer_name TEXT, customer_email TEXT,"
        " customer_contact TEXT, attributes TEXT, token_sha256 BLOB,"
        " created_at INTEGER NOT NULL, arrival INTEGER NOT NULL,"
        " entered_pool_at INTEGER NOT NULL, first_response_at INTEGER NOT NULL DEFAULT 0,"
        " escalations INTEGER NOT NULL DEFAULT 0, bot_fallbacks INTEGER NOT NULL DEFAULT 0,"
        " last_seq INTEGER NOT NULL DEFAULT 0, closed_at INTEGER);"
        "CREATE TABLE messages (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " sender TEXT NOT NULL, name TEXT, agent_id TEXT, text TEXT NOT NULL,"
        " ts INTEGER NOT NULL, PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID;"
        "CREATE TABLE notes (conversation_id TEXT NOT NULL, n INTEGER NOT NULL, agent_id TEXT,"
        " text TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (conversation_id, n))"
        " WITHOUT ROWID;"
        "CREATE TABLE events (conversation_id TEXT NOT NULL, n INTEGER NOT NULL,"
        " kind TEXT NOT NULL, ts INTEGER NOT NULL, pool TEXT, from_pool TEXT, agent_id TEXT,"
        " esc_kind TEXT, reason TEXT, note TEXT, PRIMARY KEY (conversation_id, n))"
        " WITHOUT ROWID;"
        "INSERT INTO conversations (id, channel, media, state, customer_contact, created_at,"
        " arrival, entered_pool_at) VALUES ('old', 'telegram', 'chat', 'queued', '7', 1, 1, 1);"
        "INSERT INTO messages VALUES ('old', 2, 'agent', 'Al', 'al', 'second', 3),"
        " ('old', 1, 'customer', NULL, NULL, 'first', 2), ('b', 1, 'customer', NULL, NULL, 'x', 2);"
        "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    cfg = make_config(db);
    st = open_store(&cfg);
    CHECK_EQ_INT(query_ll(st, "PRAGMA user_version"), 3);
    /* version 3 moved the messages into the log and indexed them */
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM message_index"), 3);
    CHECK_EQ_INT(query_ll(st, "SELECT value FROM store_state WHERE key = 'messages_filed'"), 3);
    texts[0] = '\0';
    CHECK_EQ_INT(sb_store_load_messages(st, "old", 0, join_texts, texts), 0);
    CHECK_EQ_STR(texts, "1:first 2:second ");
    CHECK_EQ_INT(sb_store_find_open_conv(st, "telegram", "7", id), 0);
    CHECK_EQ_STR(id, "old");
    CHECK_EQ_INT(sb_store_inbound_get(st, "telegram", "7:1", id, &seq), SB_ENOTFOUND);
    CHECK_EQ_INT(sb_store_inbound_put(st, "telegram", "7:1", "old", 1, 5), 0);
    sb_store_close(st);
    remove_db(db);
}

/* Retention deletes a purged conversation's outbox and inbound rows too. */
static void test_retention_takes_outbox(void)
{
    sb_config_t cfg = make_config(":memory:");
    sb_store_t *st = open_store(&cfg);
    sb_outbox_row_t r;
    sb_conv_t c;
    sb_event_t ev;
    int deleted = 0;

    memset(&c, 0, sizeof(c));
    memset(&ev, 0, sizeof(ev));
    snprintf(c.id, sizeof(c.id), "gone");
    snprintf(c.channel, sizeof(c.channel), "whatsapp");
    c.state = SB_CONV_CLOSED;
    c.created_at = c.arrival = c.entered_pool_at = 10;
    ev.kind = SB_EV_CLOSED;
    ev.ts = 20;
    ev.pool = ev.from_pool = -1;
    c.history = &ev;
    c.nhistory = 1;
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    r = row(1, "whatsapp", "gone", 1, "A", "bye", 15);
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);
    r = row(2, "whatsapp", "kept", 1, "B", "hi", 15);
    CHECK_EQ_INT(sb_store_outbox_put(st, &r), 0);
    CHECK_EQ_INT(sb_store_inbound_put(st, "whatsapp", "w1", "gone", 1, 12), 0);
    CHECK_EQ_INT(sb_store_inbound_put(st, "whatsapp", "w2", "kept", 1, 12), 0);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM conversations WHERE closed_at IS NOT NULL"),
                 1);
    CHECK_EQ_INT(st->m->purge_closed(st->impl, 1000000, 10, &deleted), 0);
    CHECK_EQ_INT(deleted, 1);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM outbox"), 1);
    CHECK_EQ_INT(query_ll(st, "SELECT id FROM outbox"), 2);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM inbound"), 1);
    sb_store_close(st);
}

int main(void)
{
    RUN(test_outbox_put_update_load);
    RUN(test_outbox_mark);
    RUN(test_inbound_and_open_conv);
    RUN(test_migration_from_v1);
    RUN(test_retention_takes_outbox);
    fprintf(stderr, "test_store_outbox: ok\n");
    return 0;
}
