/*
 * test_store.c - the SQLite store engine: schema, transactions, idempotent
 * appends, read-back for resume and crash recovery, durability settings,
 * and behaviour when the database cannot be written.
 *
 * The configuration and conversations are built by hand: this test depends
 * on neither the config loader nor the core's logic.
 */
#include "switchboard/store.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- a configuration by hand -------------------------------------------- */

static char *skills_a[] = { "billing", "technical" };
static char *languages_a[] = { "en", "es" };
static sb_cfg_pool_t pools_a[] = {
    { .id = "general", .overflow = -1, .escalate_to = -1 },
    { .id = "billing", .overflow = -1, .escalate_to = 2 },
    { .id = "supervisors", .overflow = -1, .escalate_to = -1 },
};
static sb_cfg_topic_t topics_a[] = { { .id = "refund", .pool = 1 } };
static sb_cfg_agent_t agents_a[] = { { .id = "alice", .name = "Alice" } };

static sb_config_t make_config(const char *path, sb_sync_t sync)
{
    sb_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.store_engine = "sqlite";
    cfg.store_path = (char *)path;
    cfg.store_sync = sync;
    cfg.skills = skills_a;
    cfg.nskills = 2;
    cfg.languages = languages_a;
    cfg.nlanguages = 2;
    cfg.pools = pools_a;
    cfg.npools = 3;
    cfg.topics = topics_a;
    cfg.ntopics = 1;
    cfg.agents = agents_a;
    cfg.nagents = 1;
    cfg.default_language = 0;
    cfg.default_pool = 0;
    return cfg;
}

/* --- conversations by hand ---------------------------------------------- */

static sb_agent_t alice = { .cfg = &agents_a[0], .index = 0 };

static void make_conv(sb_conv_t *c, const char *id, sb_conv_state_t state, int priority,
                      sb_ms_t arrival)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->channel, sizeof(c->channel), "webchat");
    c->media = SB_MEDIA_CHAT;
    c->state = state;
    c->customer_name = sb_strdup("Ana");
    c->customer_email = sb_strdup("ana@example.com");
    c->language = 1;                       /* es */
    c->topic = 0;                          /* refund */
    c->pool = 1;                           /* billing */
    c->skills = sb_calloc(2, sizeof(*c->skills));
    c->skills[0] = (sb_skill_req_t){ .skill = 0, .level = 7 };
    c->skills[1] = (sb_skill_req_t){ .skill = 1, .level = 3 };
    c->nskills = 2;
    c->priority = priority;
    c->attributes = json_pack("{s:s, s:i}", "plan", "gold", "order", 1234);
    memset(c->token_sha256, 0xab, sizeof(c->token_sha256));
    c->created_at = arrival;
    c->arrival = arrival;
    c->entered_pool_at = arrival + 5;
}

static sb_message_t *add_msg(sb_conv_t *c, sb_from_t from, const char *text, sb_ms_t ts)
{
    sb_message_t *m;

    if (c->nmsgs == c->msgs_cap) {
        c->msgs_cap = c->msgs_cap ? c->msgs_cap * 2 : 8;
        c->msgs = sb_realloc(c->msgs, c->msgs_cap * sizeof(*c->msgs));
    }
    m = &c->msgs[c->nmsgs++];
    memset(m, 0, sizeof(*m));
    m->seq = ++c->last_seq;
    m->from = from;
    m->name = sb_strdup(from == SB_FROM_AGENT ? "Alice" : "Ana");
    m->agent_id = from == SB_FROM_AGENT ? sb_strdup("alice") : NULL;
    m->text = sb_strdup(text);
    m->ts = ts;
    return m;
}

static sb_note_t *add_note(sb_conv_t *c, const char *text, sb_ms_t ts)
{
    sb_note_t *n;

    if (c->nnotes == c->notes_cap) {
        c->notes_cap = c->notes_cap ? c->notes_cap * 2 : 4;
        c->notes = sb_realloc(c->notes, c->notes_cap * sizeof(*c->notes));
    }
    n = &c->notes[c->nnotes++];
    n->agent_id = sb_strdup("alice");
    n->text = sb_strdup(text);
    n->ts = ts;
    return n;
}

static sb_event_t *add_event(sb_conv_t *c, sb_event_kind_t kind, int pool, int from_pool,
                             sb_ms_t ts)
{
    sb_event_t *e;

    if (c->nhistory == c->history_cap) {
        c->history_cap = c->history_cap ? c->history_cap * 2 : 4;
        c->history = sb_realloc(c->history, c->history_cap * sizeof(*c->history));
    }
    e = &c->history[c->nhistory++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->ts = ts;
    e->pool = pool;
    e->from_pool = from_pool;
    if (kind == SB_EV_ESCALATED) {
        e->esc_kind = sb_strdup("hierarchical");
        e->reason = sb_strdup("customer asked");
        e->note = sb_strdup("angry about the refund");
        e->agent_id = sb_strdup("alice");
    }
    return e;
}

/* Forgets the last n messages (not stored: their seqs are used again). */
static void drop_msgs(sb_conv_t *c, size_t n)
{
    while (n-- > 0 && c->nmsgs > 0) {
        sb_message_t *m = &c->msgs[--c->nmsgs];
        free(m->name);
        free(m->agent_id);
        free(m->text);
        c->last_seq--;
    }
}

static void free_conv(sb_conv_t *c)
{
    free(c->customer_name);
    free(c->customer_email);
    free(c->customer_contact);
    free(c->skills);
    json_decref(c->attributes);
    for (size_t i = 0; i < c->nmsgs; i++) {
        free(c->msgs[i].name);
        free(c->msgs[i].agent_id);
        free(c->msgs[i].text);
    }
    free(c->msgs);
    for (size_t i = 0; i < c->nnotes; i++) {
        free(c->notes[i].agent_id);
        free(c->notes[i].text);
    }
    free(c->notes);
    for (size_t i = 0; i < c->nhistory; i++) {
        free(c->history[i].agent_id);
        free(c->history[i].esc_kind);
        free(c->history[i].reason);
        free(c->history[i].note);
    }
    free(c->history);
    memset(c, 0, sizeof(*c));
}

/* --- helpers ------------------------------------------------------------- */

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmpdir, sizeof(tmpdir), "%s/sb-store-XXXXXX", base && *base ? base : "/tmp");
    CHECK(mkdtemp(tmpdir) != NULL);
}

static void rm_rf(const char *path)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;
    char child[1024];

    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        chmod(path, 0700);
        d = opendir(path);
        if (d) {
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
                rm_rf(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static sb_store_t *open_store(const sb_config_t *cfg)
{
    int err = 12345;
    sb_store_t *st = sb_store_open(cfg, &err);

    if (!st)
        fprintf(stderr, "sb_store_open: %d\n", err);
    CHECK(st != NULL);
    return st;
}

/* One integer from a query on the store's own connection. */
static long long query_ll(sb_store_t *st, const char *sql)
{
    sqlite3 *db = sb_store_sqlite_db(st);
    sqlite3_stmt *q;
    long long v = -1;

    CHECK(db != NULL);
    CHECK_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void query_text(sb_store_t *st, const char *sql, char *out, size_t len)
{
    sqlite3 *db = sb_store_sqlite_db(st);
    sqlite3_stmt *q;

    CHECK(db != NULL);
    CHECK_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    out[0] = '\0';
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
}

/* load_messages collector */
typedef struct collected {
    uint64_t seq[64];
    char text[64][32];
    sb_from_t from[64];
    int n;
    int stop_after;              /* return 99 after this many; 0 = never */
} collected_t;

static int collect_msg(void *arg, const sb_message_t *m)
{
    collected_t *c = arg;

    CHECK(c->n < 64);
    c->seq[c->n] = m->seq;
    c->from[c->n] = m->from;
    snprintf(c->text[c->n], sizeof(c->text[0]), "%s", m->text);
    c->n++;
    return c->stop_after && c->n >= c->stop_after ? 99 : 0;
}

static int count_msgs(sb_store_t *st, const char *conv_id)
{
    collected_t got = { .n = 0 };

    CHECK_EQ_INT(sb_store_load_messages(st, conv_id, 0, collect_msg, &got), 0);
    return got.n;
}

/* load_conv / load_open collector: keeps a copy of what it is shown. */
typedef struct seen_conv {
    char id[40];
    sb_conv_state_t state;
    int priority, pool, language, topic, nskills, skill0, level0;
    size_t nmsgs, nnotes, nhistory;
    char first_text[32], last_text[32];
    uint64_t last_seq;
    char agent_id[16];
    char plan[16];
    int ev_pool, ev_from_pool;
    char ev_note[32];
    unsigned char token0;
    sb_ms_t arrival, entered_pool_at;
} seen_conv_t;

typedef struct seen {
    seen_conv_t conv[16];
    int n;
    int stop_after;
    bool steal;                  /* take msgs and attributes from the scratch */
} seen_t;

static int collect_conv(void *arg, sb_conv_t *c, const char *agent_id)
{
    seen_t *s = arg;
    seen_conv_t *v;
    json_t *plan;

    CHECK(s->n < 16);
    v = &s->conv[s->n++];
    memset(v, 0, sizeof(*v));
    snprintf(v->id, sizeof(v->id), "%s", c->id);
    v->state = c->state;
    v->priority = c->priority;
    v->pool = c->pool;
    v->language = c->language;
    v->topic = c->topic;
    v->nskills = (int)c->nskills;
    v->skill0 = c->nskills ? c->skills[0].skill : -1;
    v->level0 = c->nskills ? c->skills[0].level : -1;
    v->nmsgs = c->nmsgs;
    v->nnotes = c->nnotes;
    v->nhistory = c->nhistory;
    v->last_seq = c->last_seq;
    v->arrival = c->arrival;
    v->entered_pool_at = c->entered_pool_at;
    v->token0 = c->token_sha256[0];
    CHECK(c->agent == NULL);
    CHECK(c->user == NULL && c->core_private == NULL);
    for (size_t i = 0; i < c->nmsgs; i++)
        CHECK_EQ_INT(c->msgs[i].seq, i + 1);
    if (c->nmsgs) {
        snprintf(v->first_text, sizeof(v->first_text), "%s", c->msgs[0].text);
        snprintf(v->last_text, sizeof(v->last_text), "%s", c->msgs[c->nmsgs - 1].text);
    }
    if (agent_id)
        snprintf(v->agent_id, sizeof(v->agent_id), "%s", agent_id);
    plan = c->attributes ? json_object_get(c->attributes, "plan") : NULL;
    if (plan)
        snprintf(v->plan, sizeof(v->plan), "%s", json_string_value(plan));
    v->ev_pool = v->ev_from_pool = -2;
    for (size_t i = 0; i < c->nhistory; i++)
        if (c->history[i].kind == SB_EV_ESCALATED) {
            v->ev_pool = c->history[i].pool;
            v->ev_from_pool = c->history[i].from_pool;
            snprintf(v->ev_note, sizeof(v->ev_note), "%s", c->history[i].note);
        }
    if (s->steal) {
        /* Take ownership of two members, as the core will when it adopts. */
        sb_message_t *msgs = c->msgs;
        size_t n = c->nmsgs;
        json_t *attrs = c->attributes;
        c->msgs = NULL;
        c->nmsgs = c->msgs_cap = 0;
        c->attributes = NULL;
        for (size_t i = 0; i < n; i++) {
            free(msgs[i].name);
            free(msgs[i].agent_id);
            free(msgs[i].text);
        }
        free(msgs);
        json_decref(attrs);
    }
    return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

static seen_conv_t load_one(sb_store_t *st, const char *id)
{
    seen_t seen = { .n = 0 };

    CHECK_EQ_INT(sb_store_load_conv(st, id, collect_conv, &seen), 0);
    CHECK_EQ_INT(seen.n, 1);
    return seen.conv[0];
}

/* --- tests ---------------------------------------------------------------- */

static void test_open_unknown_engine(void)
{
    sb_config_t cfg = make_config(":memory:", SB_SYNC_FULL);
    int err = 0;

    cfg.store_engine = "redis-not-yet";
    CHECK(sb_store_open(&cfg, &err) == NULL);
    CHECK_EQ_INT(err, SB_EINVAL);
    cfg.store_engine = "sqlite";
    cfg.store_path = NULL;
    CHECK(sb_store_open(&cfg, &err) == NULL);
    CHECK_EQ_INT(err, SB_EINVAL);
    sb_store_close(NULL);
}

static void test_memory_save_conv_insert_update(void)
{
    sb_config_t cfg = make_config(":memory:", SB_SYNC_FULL);
    sb_store_t *st = open_store(&cfg);
    sb_conv_t c;
    seen_conv_t v;
    char text[128];

    CHECK_EQ_INT(query_ll(st, "PRAGMA user_version"), 3);
    make_conv(&c, "c-1", SB_CONV_QUEUED, 0, 1000);
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    v = load_one(st, "c-1");
    CHECK_EQ_INT(v.state, SB_CONV_QUEUED);
    CHECK_EQ_INT(v.pool, 1);
    CHECK_EQ_INT(v.language, 1);
    CHECK_EQ_INT(v.topic, 0);
    CHECK_EQ_INT(v.nskills, 2);
    CHECK_EQ_INT(v.skill0, 0);
    CHECK_EQ_INT(v.level0, 7);
    CHECK_EQ_STR(v.plan, "gold");
    CHECK_EQ_INT(v.token0, 0xab);
    CHECK_EQ_STR(v.agent_id, "");
    CHECK_EQ_INT(v.entered_pool_at, 1005);
    query_text(st, "SELECT pool || '/' || language || '/' || topic || '/' || skills "
               "FROM conversations", text, sizeof(text));
    CHECK_EQ_STR(text, "billing/es/refund/{\"billing\":7,\"technical\":3}");

    /* Update: assigned to alice, escalated to supervisors, higher priority. */
    c.state = SB_CONV_ASSIGNED;
    c.agent = &alice;
    c.pool = 2;
    c.priority = 3;
    c.escalations = 1;
    c.entered_pool_at = 2000;
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM conversations"), 1);
    v = load_one(st, "c-1");
    CHECK_EQ_INT(v.state, SB_CONV_ASSIGNED);
    CHECK_EQ_INT(v.pool, 2);
    CHECK_EQ_INT(v.priority, 3);
    CHECK_EQ_INT(v.entered_pool_at, 2000);
    CHECK_EQ_STR(v.agent_id, "alice");
    CHECK_EQ_INT(query_ll(st, "SELECT closed_at IS NULL FROM conversations"), 1);

    /* Closing records when. */
    c.state = SB_CONV_CLOSED;
    c.agent = NULL;
    add_event(&c, SB_EV_CLOSED, 2, -1, 4242);
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(query_ll(st, "SELECT closed_at FROM conversations"), 4242);
    CHECK_EQ_INT(query_ll(st, "SELECT agent_id IS NULL FROM conversations"), 1);

    {
        seen_t seen = { .n = 0 };
        CHECK_EQ_INT(sb_store_load_conv(st, "nope", collect_conv, &seen), SB_ENOTFOUND);
        CHECK_EQ_INT(seen.n, 0);
    }
    free_conv(&c);
    sb_store_close(st);
}

static void test_transactions_and_duplicates(void)
{
    sb_config_t cfg = make_config(":memory:", SB_SYNC_FULL);
    sb_store_t *st = open_store(&cfg);
    sb_conv_t c;
    collected_t got = { .n = 0 };

    make_conv(&c, "c-tx", SB_CONV_ASSIGNED, 0, 1000);

    /* Committed: readable. */
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK(st->in_txn);
    CHECK_EQ_INT(sb_store_begin(st), 0);       /* no-op inside a transaction */
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "hola", 1001)), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_AGENT, "buenas", 1002)), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "reembolso", 1003)), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    CHECK(!st->in_txn);
    CHECK_EQ_INT(sb_store_commit(st), 0);      /* no-op outside */
    CHECK_EQ_INT(count_msgs(st, "c-tx"), 3);

    /* Rolled back: gone. */
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_AGENT, "lost 4", 1004)), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_AGENT, "lost 5", 1005)), 0);
    CHECK_EQ_INT(count_msgs(st, "c-tx"), 5);   /* visible inside its own transaction */
    CHECK_EQ_INT(sb_store_rollback(st), 0);
    CHECK_EQ_INT(sb_store_rollback(st), 0);    /* no-op outside */
    CHECK_EQ_INT(count_msgs(st, "c-tx"), 3);
    drop_msgs(&c, 2);

    /* The same seq again (a turn written again) reads back once; first wins.
     * The log keeps the second copies until they are filed (test_message_log). */
    {
        sb_message_t again = c.msgs[1];
        again.text = "a different text";
        CHECK_EQ_INT(sb_store_append_message(st, &c, &c.msgs[1]), 0);
        CHECK_EQ_INT(sb_store_append_message(st, &c, &again), 0);
    }
    CHECK_EQ_INT(query_ll(st, "SELECT count(DISTINCT seq) FROM messages"), 3);
    CHECK_EQ_INT(sb_store_load_messages(st, "c-tx", 0, collect_msg, &got), 0);
    CHECK_EQ_INT(got.n, 3);
    CHECK_EQ_STR(got.text[1], "buenas");
    CHECK_EQ_INT(got.from[1], SB_FROM_AGENT);

    /* Notes and events are idempotent by position too. */
    {
        sb_note_t *n1 = add_note(&c, "vip customer", 1010);
        sb_event_t *e1 = add_event(&c, SB_EV_ESCALATED, 2, 1, 1011);
        CHECK_EQ_INT(sb_store_append_note(st, &c, n1), 0);
        CHECK_EQ_INT(sb_store_append_note(st, &c, &c.notes[0]), 0);
        CHECK_EQ_INT(sb_store_append_event(st, &c, e1), 0);
        CHECK_EQ_INT(sb_store_append_event(st, &c, &c.history[0]), 0);
        CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM notes"), 1);
        CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM events"), 1);
        CHECK_EQ_INT(sb_store_append_note(st, &c, add_note(&c, "second", 1012)), 0);
        CHECK_EQ_INT(query_ll(st, "SELECT max(n) FROM notes"), 2);
    }

    /* load_messages after a seq: exactly the later ones, in order. */
    CHECK_EQ_INT(sb_store_begin(st), 0);
    for (int i = 4; i <= 9; i++) {
        char text[16];
        snprintf(text, sizeof(text), "m%d", i);
        CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, text, 1000 + i)), 0);
    }
    CHECK_EQ_INT(sb_store_commit(st), 0);
    memset(&got, 0, sizeof(got));
    CHECK_EQ_INT(sb_store_load_messages(st, "c-tx", 6, collect_msg, &got), 0);
    CHECK_EQ_INT(got.n, 3);
    CHECK_EQ_INT(got.seq[0], 7);
    CHECK_EQ_INT(got.seq[1], 8);
    CHECK_EQ_INT(got.seq[2], 9);
    CHECK_EQ_STR(got.text[0], "m7");
    CHECK_EQ_STR(got.text[2], "m9");
    memset(&got, 0, sizeof(got));
    CHECK_EQ_INT(sb_store_load_messages(st, "c-tx", 9, collect_msg, &got), 0);
    CHECK_EQ_INT(got.n, 0);
    CHECK_EQ_INT(sb_store_load_messages(st, "no-such", 0, collect_msg, &got), 0);
    CHECK_EQ_INT(got.n, 0);
    got.stop_after = 2;
    CHECK_EQ_INT(sb_store_load_messages(st, "c-tx", 0, collect_msg, &got), 99);
    CHECK_EQ_INT(got.n, 2);

    free_conv(&c);
    sb_store_close(st);
}

static void test_file_wal_sync_and_reopen(void)
{
    char path[512], wal[520], text[32];
    sb_config_t cfg;
    sb_store_t *st;
    sb_conv_t c;
    seen_conv_t v;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/var/deeper/switchboard.db", tmpdir);  /* dirs made */
    snprintf(wal, sizeof(wal), "%s-wal", path);
    cfg = make_config(path, SB_SYNC_FULL);
    st = open_store(&cfg);
    query_text(st, "PRAGMA journal_mode", text, sizeof(text));
    CHECK_EQ_STR(text, "wal");
    CHECK_EQ_INT(query_ll(st, "PRAGMA synchronous"), 2);       /* FULL */
    CHECK_EQ_INT(query_ll(st, "PRAGMA busy_timeout"), 100);

    make_conv(&c, "c-file", SB_CONV_QUEUED, 1, 5000);
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "first", 5001)), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "second", 5002)), 0);
    CHECK_EQ_INT(sb_store_append_note(st, &c, add_note(&c, "note", 5003)), 0);
    CHECK_EQ_INT(sb_store_append_event(st, &c, add_event(&c, SB_EV_QUEUED, 1, -1, 5000)), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    CHECK(access(wal, F_OK) == 0);                              /* WAL in use */

    /* A transaction left open at close is rolled back. */
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "never", 5004)), 0);
    sb_store_close(st);

    cfg.store_sync = SB_SYNC_NORMAL;
    st = open_store(&cfg);
    CHECK_EQ_INT(query_ll(st, "PRAGMA synchronous"), 1);       /* NORMAL */
    v = load_one(st, "c-file");
    CHECK_EQ_INT(v.nmsgs, 2);
    CHECK_EQ_STR(v.last_text, "second");
    CHECK_EQ_INT(v.last_seq, 2);
    CHECK_EQ_INT(v.nnotes, 1);
    CHECK_EQ_INT(v.nhistory, 1);
    CHECK_EQ_INT(v.pool, 1);
    CHECK_EQ_INT(v.priority, 1);
    sb_store_close(st);

    free_conv(&c);
    rm_rf(tmpdir);
}

/* kill -9 right after a commit: the committed transaction is there. */
static void test_survives_kill(void)
{
    char path[512];
    sb_config_t cfg;
    sb_store_t *st;
    pid_t pid;
    int status;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/k.db", tmpdir);
    cfg = make_config(path, SB_SYNC_NORMAL);    /* normal already survives a process crash */
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        sb_conv_t c;
        st = open_store(&cfg);
        make_conv(&c, "c-kill", SB_CONV_QUEUED, 0, 1);
        CHECK_EQ_INT(sb_store_begin(st), 0);
        CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
        CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "acked", 2)), 0);
        CHECK_EQ_INT(sb_store_commit(st), 0);
        CHECK_EQ_INT(sb_store_begin(st), 0);
        CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "unacked", 3)), 0);
        raise(SIGKILL);
        _exit(3);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    st = open_store(&cfg);
    {
        seen_conv_t v = load_one(st, "c-kill");
        CHECK_EQ_INT(v.nmsgs, 1);
        CHECK_EQ_STR(v.last_text, "acked");
    }
    sb_store_close(st);
    rm_rf(tmpdir);
}

static void save_with_messages(sb_store_t *st, sb_conv_t *c, int nmsgs)
{
    CHECK_EQ_INT(sb_store_save_conv(st, c), 0);
    for (int i = 0; i < nmsgs; i++) {
        char text[64];
        snprintf(text, sizeof(text), "%s/%d", c->id, i + 1);
        CHECK_EQ_INT(sb_store_append_message(st, c, add_msg(c, SB_FROM_CUSTOMER, text, c->arrival + i)), 0);
    }
}

static void test_load_open(void)
{
    sb_config_t cfg = make_config(":memory:", SB_SYNC_FULL);
    sb_store_t *st = open_store(&cfg);
    sb_conv_t c[5];
    seen_t seen = { .n = 0 };

    make_conv(&c[0], "closed", SB_CONV_CLOSED, 9, 50);
    make_conv(&c[1], "low-early", SB_CONV_QUEUED, 0, 100);
    make_conv(&c[2], "high-late", SB_CONV_QUEUED, 5, 300);
    make_conv(&c[3], "high-early", SB_CONV_ASSIGNED, 5, 200);
    make_conv(&c[4], "bot", SB_CONV_BOT, 0, 400);
    c[3].agent = &alice;
    c[3].pool = 2;

    CHECK_EQ_INT(sb_store_begin(st), 0);
    save_with_messages(st, &c[0], 2);
    save_with_messages(st, &c[1], 1);
    save_with_messages(st, &c[2], 4);
    save_with_messages(st, &c[3], 3);
    save_with_messages(st, &c[4], 0);
    CHECK_EQ_INT(sb_store_append_note(st, &c[3], add_note(&c[3], "watch this one", 250)), 0);
    CHECK_EQ_INT(sb_store_append_event(st, &c[3], add_event(&c[3], SB_EV_QUEUED, 1, -1, 200)), 0);
    CHECK_EQ_INT(sb_store_append_event(st, &c[3], add_event(&c[3], SB_EV_ESCALATED, 2, 1, 260)), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);

    CHECK_EQ_INT(sb_store_load_open(st, collect_conv, &seen), 0);
    CHECK_EQ_INT(seen.n, 4);
    CHECK_EQ_STR(seen.conv[0].id, "high-early");
    CHECK_EQ_STR(seen.conv[1].id, "high-late");
    CHECK_EQ_STR(seen.conv[2].id, "low-early");
    CHECK_EQ_STR(seen.conv[3].id, "bot");

    CHECK_EQ_INT(seen.conv[0].state, SB_CONV_ASSIGNED);
    CHECK_EQ_STR(seen.conv[0].agent_id, "alice");
    CHECK_EQ_INT(seen.conv[0].pool, 2);
    CHECK_EQ_INT(seen.conv[0].nmsgs, 3);
    CHECK_EQ_STR(seen.conv[0].first_text, "high-early/1");
    CHECK_EQ_STR(seen.conv[0].last_text, "high-early/3");
    CHECK_EQ_INT(seen.conv[0].last_seq, 3);
    CHECK_EQ_INT(seen.conv[0].nnotes, 1);
    CHECK_EQ_INT(seen.conv[0].nhistory, 2);
    CHECK_EQ_INT(seen.conv[0].ev_pool, 2);
    CHECK_EQ_INT(seen.conv[0].ev_from_pool, 1);
    CHECK_EQ_STR(seen.conv[0].ev_note, "angry about the refund");
    CHECK_EQ_STR(seen.conv[0].plan, "gold");
    CHECK_EQ_INT(seen.conv[1].nmsgs, 4);
    CHECK_EQ_STR(seen.conv[1].agent_id, "");
    CHECK_EQ_INT(seen.conv[3].nmsgs, 0);
    CHECK_EQ_INT(seen.conv[3].state, SB_CONV_BOT);

    /* The callback stops the walk with its own value. */
    memset(&seen, 0, sizeof(seen));
    seen.stop_after = 2;
    CHECK_EQ_INT(sb_store_load_open(st, collect_conv, &seen), 7);
    CHECK_EQ_INT(seen.n, 2);

    /* The callback may take members; the store frees the rest (ASan checks). */
    memset(&seen, 0, sizeof(seen));
    seen.steal = true;
    CHECK_EQ_INT(sb_store_load_open(st, collect_conv, &seen), 0);
    CHECK_EQ_INT(seen.n, 4);

    /* The query is served by the partial index. */
    {
        sqlite3_stmt *q;
        char plan[512] = "";
        CHECK_EQ_INT(sqlite3_prepare_v2(sb_store_sqlite_db(st),
                     "EXPLAIN QUERY PLAN SELECT id FROM conversations WHERE state <> "
                     "'closed' ORDER BY priority DESC, arrival, id", -1, &q, NULL), SQLITE_OK);
        while (sqlite3_step(q) == SQLITE_ROW)
            snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s;",
                     (const char *)sqlite3_column_text(q, 3));
        sqlite3_finalize(q);
        CHECK_CONTAINS(plan, "conversations_open");
    }

    for (int i = 0; i < 5; i++)
        free_conv(&c[i]);
    sb_store_close(st);
}

/* Rows hold names: another configuration (pools reordered, a skill and a
 * language gone) reads them back by name, and what is gone falls back. */
static void test_config_change(void)
{
    static char *skills_b[] = { "technical" };
    static char *languages_b[] = { "de", "en" };
    static sb_cfg_pool_t pools_b[] = {
        { .id = "supervisors", .overflow = -1, .escalate_to = -1 },
        { .id = "general", .overflow = -1, .escalate_to = -1 },
        { .id = "billing", .overflow = -1, .escalate_to = 0 },
    };
    char path[512];
    sb_config_t cfg, cfg_b;
    sb_store_t *st;
    sb_conv_t c, d;
    seen_conv_t v;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/cfg.db", tmpdir);
    cfg = make_config(path, SB_SYNC_FULL);
    st = open_store(&cfg);
    make_conv(&c, "c-cfg", SB_CONV_QUEUED, 0, 10);    /* billing, es, skills billing+technical */
    make_conv(&d, "c-gone", SB_CONV_QUEUED, 0, 20);
    d.language = 0;                                   /* en */
    d.pool = 2;                                       /* supervisors */
    d.topic = -1;
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(sb_store_save_conv(st, &d), 0);
    sb_store_close(st);

    cfg_b = cfg;
    cfg_b.skills = skills_b;
    cfg_b.nskills = 1;
    cfg_b.languages = languages_b;
    cfg_b.nlanguages = 2;
    cfg_b.default_language = 1;                       /* en */
    cfg_b.pools = pools_b;
    cfg_b.default_pool = 1;                           /* general */
    cfg_b.ntopics = 0;                                /* refund gone */
    st = open_store(&cfg_b);
    v = load_one(st, "c-cfg");
    CHECK_EQ_INT(v.pool, 2);                          /* billing, by name */
    CHECK_EQ_INT(v.language, 1);                      /* es gone: default en */
    CHECK_EQ_INT(v.topic, -1);                        /* refund gone */
    CHECK_EQ_INT(v.nskills, 1);                       /* billing dropped */
    CHECK_EQ_INT(v.skill0, 0);                        /* technical */
    CHECK_EQ_INT(v.level0, 3);
    v = load_one(st, "c-gone");
    CHECK_EQ_INT(v.pool, 0);                          /* supervisors, by name */
    CHECK_EQ_INT(v.language, 1);                      /* en, by name */

    /* set_config: the reloaded configuration resolves from now on. */
    sb_store_set_config(st, &cfg);
    v = load_one(st, "c-cfg");
    CHECK_EQ_INT(v.pool, 1);
    CHECK_EQ_INT(v.language, 1);
    CHECK_EQ_INT(v.nskills, 2);
    sb_store_close(st);

    free_conv(&c);
    free_conv(&d);
    rm_rf(tmpdir);
}

/* Disk full (max_page_count stands in for the file system): writes fail with
 * SB_EUNAVAIL, the whole transaction goes, and once there is room again the
 * same connection works, with no reopen. */
static void test_disk_full(void)
{
    char path[512], sql[64], big[4096];
    sb_config_t cfg;
    sb_store_t *st;
    sqlite3 *db;
    sb_conv_t c;
    int err = 0, n = 0;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/full.db", tmpdir);
    cfg = make_config(path, SB_SYNC_FULL);
    st = open_store(&cfg);
    db = sb_store_sqlite_db(st);
    make_conv(&c, "c-full", SB_CONV_QUEUED, 0, 1);
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
             query_ll(st, "PRAGMA page_count") + 2);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_INT(sb_store_begin(st), 0);
    while (n < 100 && err == 0) {
        err = sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, big, 2));
        n++;
    }
    CHECK_EQ_INT(err, SB_EUNAVAIL);
    /* Later writes of the failed transaction fail at once, commit rolls back. */
    CHECK_EQ_INT(sb_store_save_conv(st, &c), SB_EUNAVAIL);
    CHECK_EQ_INT(sb_store_commit(st), SB_EUNAVAIL);
    CHECK(!st->in_txn);
    CHECK_EQ_INT(count_msgs(st, "c-full"), 0);

    /* Room again. */
    CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sb_store_begin(st), 0);
    for (size_t i = 0; i < c.nmsgs; i++)
        CHECK_EQ_INT(sb_store_append_message(st, &c, &c.msgs[i]), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    CHECK(sb_store_sqlite_db(st) == db);              /* same connection */
    CHECK_EQ_INT(count_msgs(st, "c-full"), (int)c.nmsgs);
    sb_store_close(st);
    free_conv(&c);
    rm_rf(tmpdir);
}

/* chmod the files (and the directory, when dir_too) of path. */
static void set_mode(const char *dir, const char *path, bool writable, bool dir_too)
{
    const char *suffix[] = { "", "-wal", "-shm" };
    char name[600];

    if (dir_too && writable)
        CHECK_EQ_INT(chmod(dir, 0755), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "%s%s", path, suffix[i]);
        if (chmod(name, writable ? 0644 : 0444) != 0)
            CHECK(errno == ENOENT);
    }
    if (dir_too && !writable)
        CHECK_EQ_INT(chmod(dir, 0555), 0);
}

/* The write must fail cleanly, whether begin already refuses or not. */
static void check_write_fails(sb_store_t *st, sb_conv_t *c)
{
    int rc = sb_store_begin(st);
    sb_message_t *m = add_msg(c, SB_FROM_CUSTOMER, "while read-only", 50);

    CHECK(rc == 0 || rc == SB_EUNAVAIL || rc == SB_EIO);
    rc = sb_store_append_message(st, c, m);
    CHECK(rc == SB_EUNAVAIL || rc == SB_EIO);
    rc = sb_store_commit(st);
    CHECK(rc == 0 || rc == SB_EUNAVAIL || rc == SB_EIO);
    CHECK(!st->in_txn);
    drop_msgs(c, 1);
}

static void check_write_works(sb_store_t *st, sb_conv_t *c, int expect_total)
{
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK_EQ_INT(sb_store_append_message(st, c, add_msg(c, SB_FROM_CUSTOMER, "writable", 60)), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    CHECK_EQ_INT(count_msgs(st, c->id), expect_total);
}

/*
 * The database made read-only between runs, as an operator or a bad deploy
 * would (chmod 0444 the file, 0555 its directory). Runs unprivileged: root
 * ignores file modes. Returns false when it could not really be read-only.
 */
static bool readonly_scenario(void)
{
    char dir[512], path[600];
    sb_config_t cfg;
    sb_store_t *st;
    sb_conv_t c;
    int fd;

    make_tmpdir();
    snprintf(dir, sizeof(dir), "%s/db", tmpdir);
    snprintf(path, sizeof(path), "%s/ro.db", dir);
    cfg = make_config(path, SB_SYNC_FULL);
    st = open_store(&cfg);
    make_conv(&c, "c-ro", SB_CONV_QUEUED, 0, 1);
    CHECK_EQ_INT(sb_store_begin(st), 0);
    CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "before", 10)), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    sb_store_close(st);

    /* 1. File and directory read-only: the store opens, unavailable. */
    set_mode(dir, path, false, true);
    fd = open(path, O_WRONLY);
    if (fd >= 0) {                           /* privileged after all */
        close(fd);
        set_mode(dir, path, true, true);
        free_conv(&c);
        rm_rf(tmpdir);
        return false;
    }
    st = open_store(&cfg);
    check_write_fails(st, &c);
    check_write_fails(st, &c);               /* still failing, still no crash */
    set_mode(dir, path, true, true);
    check_write_works(st, &c, 2);            /* reopened by the engine */

    /* 2. Only the file read-only (directory writable): SQLite opens it
     * read-only and reads work; writes fail until it is writable. */
    sb_store_close(st);
    set_mode(dir, path, false, false);
    st = open_store(&cfg);
    CHECK_EQ_INT(count_msgs(st, "c-ro"), 2);
    check_write_fails(st, &c);
    CHECK_EQ_INT(count_msgs(st, "c-ro"), 2);
    set_mode(dir, path, true, false);
    check_write_works(st, &c, 3);
    sb_store_close(st);

    /* 3. Read-only under a running store: the connection keeps its open
     * file, so SQLite goes on writing (what the OS allows), no error. */
    st = open_store(&cfg);
    set_mode(dir, path, false, true);
    CHECK_EQ_INT(sb_store_append_message(st, &c, add_msg(&c, SB_FROM_CUSTOMER, "open fd", 70)), 0);
    set_mode(dir, path, true, true);
    sb_store_close(st);

    /* And a fresh store, once all is writable, has everything. */
    st = open_store(&cfg);
    CHECK_EQ_INT(count_msgs(st, "c-ro"), 4);
    sb_store_close(st);
    free_conv(&c);
    rm_rf(tmpdir);
    return true;
}

static void test_readonly(void)
{
    pid_t pid = fork();
    int status;

    CHECK(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0) {
            struct passwd *pw = getpwnam("nobody");
            uid_t uid = pw ? pw->pw_uid : 65534;
            gid_t gid = pw ? pw->pw_gid : 65534;
            if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
                _exit(77);
            prctl(PR_SET_DUMPABLE, 1);       /* LeakSanitizer attaches to us */
        }
        exit(readonly_scenario() ? 0 : 77);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        fprintf(stderr, "   skipped: cannot run unprivileged, file modes do not apply\n");
        return;
    }
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

/* --- the message log (schema 3) ----------------------------------------- */

#define LOG_CONVS 300

/* Checks that conv_id reads back as exactly seqs after+1..want, with the
 * texts "<id>:<seq>", in order, once each. */
typedef struct log_check {
    const char *id;
    uint64_t next;
} log_check_t;

static int log_check_msg(void *arg, const sb_message_t *m)
{
    log_check_t *c = arg;
    char want[64];

    CHECK_EQ_INT(m->seq, c->next);
    snprintf(want, sizeof(want), "%s:%llu", c->id, (unsigned long long)m->seq);
    CHECK_EQ_STR(m->text, want);
    c->next++;
    return 0;
}

static void log_check(sb_store_t *st, const sb_conv_t *c, uint64_t after)
{
    log_check_t lc = { .id = c->id, .next = after + 1 };

    CHECK_EQ_INT(sb_store_load_messages(st, c->id, after, log_check_msg, &lc), 0);
    CHECK_EQ_INT(lc.next, c->last_seq + 1);
}

static void log_append(sb_store_t *st, sb_conv_t *c, sb_ms_t ts)
{
    char text[64];

    snprintf(text, sizeof(text), "%s:%llu", c->id, (unsigned long long)(c->last_seq + 1));
    CHECK_EQ_INT(sb_store_append_message(st, c, add_msg(c, SB_FROM_CUSTOMER, text, ts)), 0);
}

/*
 * 300 conversations write 60,000 messages interleaved, in turns of 300, so
 * each conversation's messages are filed batch after batch. Some turns are rolled back (their
 * messages written again in the next turn, as the hub does), some are
 * written twice (a commit that failed yet was stored: second copies). Every
 * conversation reads back exactly, from the index, from the unfiled tail, and
 * across both; after a reopen (which files the whole tail) the second copies
 * are gone; retention deletes a conversation's messages and index entries.
 */
static void test_message_log(void)
{
    char path[512];
    sb_config_t cfg;
    sb_store_t *st;
    sb_conv_t *convs = sb_calloc(LOG_CONVS, sizeof(*convs));
    unsigned seed = 42;
    long long total = 0, filed;
    int deleted = 0;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/log.db", tmpdir);
    cfg = make_config(path, SB_SYNC_NORMAL);
    st = open_store(&cfg);
    for (int i = 0; i < LOG_CONVS; i++) {
        char id[40];
        snprintf(id, sizeof(id), "log-%03d", i);
        make_conv(&convs[i], id, SB_CONV_ASSIGNED, 0, 1000 + i);
    }
    CHECK_EQ_INT(sb_store_begin(st), 0);
    for (int i = 0; i < LOG_CONVS; i++)
        CHECK_EQ_INT(sb_store_save_conv(st, &convs[i]), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);

    for (int turn = 0; turn < 200; turn++) {
        size_t before[LOG_CONVS];
        CHECK_EQ_INT(sb_store_begin(st), 0);
        for (int i = 0; i < LOG_CONVS; i++)
            before[i] = convs[i].nmsgs;
        for (int k = 0; k < 300; k++)
            log_append(st, &convs[rand_r(&seed) % LOG_CONVS], 5000 + turn);
        if (turn % 37 == 5) {                  /* the commit fails: written again */
            CHECK_EQ_INT(sb_store_rollback(st), 0);
            CHECK_EQ_INT(sb_store_begin(st), 0);
            for (int i = 0; i < LOG_CONVS; i++)
                for (size_t j = before[i]; j < convs[i].nmsgs; j++)
                    CHECK_EQ_INT(sb_store_append_message(st, &convs[i], &convs[i].msgs[j]), 0);
        }
        if (turn % 53 == 7)                    /* stored, but written again anyway */
            for (int i = 0; i < LOG_CONVS; i += 7)
                for (size_t j = before[i]; j < convs[i].nmsgs; j++)
                    CHECK_EQ_INT(sb_store_append_message(st, &convs[i], &convs[i].msgs[j]), 0);
        CHECK_EQ_INT(sb_store_commit(st), 0);
        if (turn % 50 == 49)
            for (int i = 0; i < LOG_CONVS; i += 13)
                log_check(st, &convs[i], 0);
    }
    for (int i = 0; i < LOG_CONVS; i++)
        total += (long long)convs[i].nmsgs;
    CHECK_EQ_INT(total, 60000);
    /* filed as it went, 32 at a time per conversation: at most 31 wait */
    filed = query_ll(st, "SELECT count(*) FROM message_index");
    CHECK(filed >= total - LOG_CONVS * 31);
    CHECK(filed < total);
    for (int i = 0; i < LOG_CONVS; i++) {
        log_check(st, &convs[i], 0);
        log_check(st, &convs[i], convs[i].last_seq / 2);   /* index and waiting */
        log_check(st, &convs[i], convs[i].last_seq);       /* nothing */
    }
    sb_store_close(st);

    st = open_store(&cfg);                     /* files the whole tail */
    CHECK_EQ_INT(query_ll(st, "SELECT value FROM store_state WHERE key = 'messages_filed'"),
                 query_ll(st, "SELECT MAX(id) FROM messages"));
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM message_index"), total);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM messages"), total);   /* no second copies */
    for (int i = 0; i < LOG_CONVS; i++)
        log_check(st, &convs[i], 0);

    /* a conversation that closes has its waiting messages filed at once */
    CHECK_EQ_INT(sb_store_begin(st), 0);
    log_append(st, &convs[5], 8000);
    convs[5].state = SB_CONV_CLOSED;
    CHECK_EQ_INT(sb_store_save_conv(st, &convs[5]), 0);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM message_index WHERE conversation_id = 'log-005'"),
                 (long long)convs[5].nmsgs);

    /* one that goes quiet is filed once 65,536 later messages passed it, and
     * the watermark moves past it */
    {
        long long quiet_id;
        CHECK_EQ_INT(sb_store_begin(st), 0);
        log_append(st, &convs[7], 8001);
        CHECK_EQ_INT(sb_store_commit(st), 0);
        quiet_id = query_ll(st, "SELECT MAX(id) FROM messages");
        for (int turn = 0; turn < 250; turn++) {
            CHECK_EQ_INT(sb_store_begin(st), 0);
            for (int k = 0; k < 300; k++)
                log_append(st, &convs[10 + k % 100], 8002);
            CHECK_EQ_INT(sb_store_commit(st), 0);
        }
        CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM message_index WHERE conversation_id = "
                                  "'log-007'"), (long long)convs[7].nmsgs);
        CHECK(query_ll(st, "SELECT value FROM store_state WHERE key = 'messages_filed'") >=
              quiet_id);
        total += 75000 + 1 + 1;
        log_check(st, &convs[7], 0);
        log_check(st, &convs[10], 0);
    }

    /* one more message after the reopen: in the tail again */
    CHECK_EQ_INT(sb_store_begin(st), 0);
    log_append(st, &convs[1], 9000);
    CHECK_EQ_INT(sb_store_commit(st), 0);
    log_check(st, &convs[1], 0);

    /* retention: conversations 0 and 1 closed long ago go, with every row */
    for (int i = 0; i < 2; i++) {
        convs[i].state = SB_CONV_CLOSED;
        add_event(&convs[i], SB_EV_CLOSED, 2000, 1, -1);
        CHECK_EQ_INT(sb_store_begin(st), 0);
        CHECK_EQ_INT(sb_store_save_conv(st, &convs[i]), 0);
        CHECK_EQ_INT(sb_store_commit(st), 0);
    }
    CHECK_EQ_INT(sb_store_purge_closed(st, 3000, 100, &deleted), 0);
    CHECK_EQ_INT(deleted, 2);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM messages "
                              "WHERE conversation_id IN ('log-000', 'log-001')"), 0);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM message_index "
                              "WHERE conversation_id IN ('log-000', 'log-001')"), 0);
    CHECK_EQ_INT(query_ll(st, "SELECT count(*) FROM messages"),
                 total + 1 - (long long)convs[0].nmsgs - (long long)convs[1].nmsgs);
    sb_store_close(st);
    st = open_store(&cfg);                     /* and everything is still there */
    for (int i = 2; i < LOG_CONVS; i++)
        log_check(st, &convs[i], 0);
    for (int i = 2; i < LOG_CONVS; i++)
        log_check(st, &convs[i], 0);
    sb_store_close(st);

    for (int i = 0; i < LOG_CONVS; i++)
        free_conv(&convs[i]);
    free(convs);
    rm_rf(tmpdir);
}

/* Messages in the database file itself, WAL ignored (immutable=1). */
static long long rows_in_file(const char *path)
{
    char uri[600];
    sqlite3 *db;
    sqlite3_stmt *q;
    long long n = -1;

    snprintf(uri, sizeof(uri), "file:%s?immutable=1", path);
    CHECK_EQ_INT(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                 SQLITE_OK);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &q, NULL) != SQLITE_OK) {
        n = 0;                  /* not even the table is in the file yet */
    } else {
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return n;
}

/* The WAL checkpoint waits for the hub (sb_store_maintain, after a turn's
 * frames are out) instead of running inside a commit; nothing is lost. */
static void test_checkpoint_after_turn(void)
{
    char path[512];
    sb_config_t cfg;
    sb_store_t *st;
    sb_conv_t c;
    int turns = 0;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/ck.db", tmpdir);
    cfg = make_config(path, SB_SYNC_FULL);
    st = open_store(&cfg);
    make_conv(&c, "c-ck", SB_CONV_ASSIGNED, 0, 1);
    CHECK(!sb_store_maintenance_due(st));
    while (!sb_store_maintenance_due(st)) {       /* ~1,000 WAL frames */
        CHECK(turns++ < 5000);
        CHECK_EQ_INT(sb_store_begin(st), 0);
        CHECK_EQ_INT(sb_store_save_conv(st, &c), 0);
        log_append(st, &c, 10);
        CHECK_EQ_INT(sb_store_commit(st), 0);
    }
    /* not checkpointed in the commits: the database file alone lacks rows */
    CHECK(rows_in_file(path) < (long long)c.nmsgs);
    CHECK_EQ_INT(sb_store_begin(st), 0);
    sb_store_maintain(st);                        /* not inside a transaction */
    CHECK(sb_store_maintenance_due(st));
    CHECK_EQ_INT(sb_store_commit(st), 0);
    sb_store_maintain(st);
    CHECK(!sb_store_maintenance_due(st));
    CHECK_EQ_INT(rows_in_file(path), (long long)c.nmsgs);
    log_check(st, &c, 0);
    sb_store_close(st);
    free_conv(&c);
    rm_rf(tmpdir);
}

int main(void)
{
    sb_log_set_level(SB_LOG_WARN);
    RUN(test_open_unknown_engine);
    RUN(test_memory_save_conv_insert_update);
    RUN(test_transactions_and_duplicates);
    RUN(test_file_wal_sync_and_reopen);
    RUN(test_survives_kill);
    RUN(test_load_open);
    RUN(test_config_change);
    RUN(test_disk_full);
    RUN(test_readonly);
    RUN(test_message_log);
    RUN(test_checkpoint_after_turn);
    return 0;
}
