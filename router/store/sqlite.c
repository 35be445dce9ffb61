/*
 * sqlite.c - the SQLite store engine, the embedded default.
 *
 * One connection, used only from the service loop. File databases run in
 * WAL mode with synchronous FULL or NORMAL (cfg->store_sync; docs/store.md
 * says what each promises); ":memory:" is for tests that need no durability.
 * The hot paths (begin, commit, the four writes) run prepared statements
 * kept for the life of the connection. A busy timeout of 100 ms bounds how
 * long a write can wait for a lock held by another process: the loop is
 * never blocked long, the caller gets SB_EUNAVAIL instead.
 *
 * Rows hold configuration ids (pool "billing", language "es"), never
 * indexes; the configuration given to open (borrowed) turns them back into
 * indexes when conversations are read back.
 *
 * When the database stops accepting writes (read-only file or directory,
 * I/O error, the file moved) the engine answers SB_EUNAVAIL and, outside a
 * transaction, tries a fresh connection before the next write; a full disk
 * needs no reopening, the same connection works again once there is room.
 */
#include "switchboard/store.h"

#include "msglog.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_VERSION 3
#define BUSY_TIMEOUT_MS 100
#define CACHE_KIB "4096"           /* page cache: at most 4 MiB */
/* The message log (schema version 3, docs/store.md "Messages"): a
 * conversation's messages are filed into message_index FILE_BATCH at a time
 * (or when it closes), inside a turn's transaction; every FILE_SWEEP ids,
 * conversations with a message more than FILE_LAG ids old are filed too and
 * the watermark moves. */
#define CHECKPOINT_FRAMES 1000     /* a WAL this long is checkpointed after the turn */
#define CHECKPOINT_NOW 8000        /* nobody called maintain: in the commit */
#define FILE_BATCH 32
#define FILE_LAG 65536
#define FILE_SWEEP 8192

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS conversations ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  media TEXT NOT NULL,"                /* chat | voice */
    "  state TEXT NOT NULL,"                /* sb_conv_state_name() */
    "  language TEXT,"                      /* configured language tag */
    "  topic TEXT,"                         /* topic id or NULL */
    "  pool TEXT,"                          /* pool id */
    "  agent_id TEXT,"                      /* assigned or offered agent, or NULL */
    "  skills TEXT NOT NULL DEFAULT '{}',"  /* JSON {\"billing\":7}, as asked */
    "  relaxed INTEGER NOT NULL DEFAULT 0,"
    "  priority INTEGER NOT NULL DEFAULT 0,"
    "  customer_name TEXT,"
    "  customer_email TEXT,"
    "  customer_contact TEXT,"
    "  attributes TEXT,"                    /* JSON object or NULL */
    "  token_sha256 BLOB,"
    "  created_at INTEGER NOT NULL,"
    "  arrival INTEGER NOT NULL,"
    "  entered_pool_at INTEGER NOT NULL,"
    "  first_response_at INTEGER NOT NULL DEFAULT 0,"
    "  escalations INTEGER NOT NULL DEFAULT 0,"
    "  bot_fallbacks INTEGER NOT NULL DEFAULT 0,"
    "  last_seq INTEGER NOT NULL DEFAULT 0,"
    "  closed_at INTEGER"                   /* NULL while open */
    ");"
    "CREATE INDEX IF NOT EXISTS conversations_state ON conversations(state);"
    "CREATE INDEX IF NOT EXISTS conversations_open"
    "  ON conversations(priority DESC, arrival, id) WHERE state <> 'closed';"
    "CREATE INDEX IF NOT EXISTS conversations_closed"
    "  ON conversations(closed_at) WHERE state = 'closed';"
    "CREATE TABLE IF NOT EXISTS messages ("
    "  conversation_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  sender TEXT NOT NULL,"               /* customer | agent | bot | system */
    "  name TEXT,"
    "  agent_id TEXT,"
    "  text TEXT NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  PRIMARY KEY (conversation_id, seq)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS notes ("
    "  conversation_id TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"                 /* 1-based position in the conversation */
    "  agent_id TEXT,"
    "  text TEXT NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  PRIMARY KEY (conversation_id, n)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS events ("
    "  conversation_id TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"                 /* 1-based position in the history */
    "  kind TEXT NOT NULL,"                 /* sb_event_name() */
    "  ts INTEGER NOT NULL,"
    "  pool TEXT,"
    "  from_pool TEXT,"
    "  agent_id TEXT,"
    "  esc_kind TEXT,"
    "  reason TEXT,"
    "  note TEXT,"
    "  PRIMARY KEY (conversation_id, n)"
    ") WITHOUT ROWID;";

/* Version 2: the channel adapters' outbox and inbound deduplication, and
 * the lookup of a contact's open conversation. */
static const char schema_v2_sql[] =
    "CREATE TABLE IF NOT EXISTS outbox ("
    "  id INTEGER PRIMARY KEY NOT NULL,"    /* chosen by the hub, never reused */
    "  channel TEXT NOT NULL,"
    "  conversation_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0,"     /* transcript seq, 0 for a notice */
    "  part INTEGER NOT NULL DEFAULT 0,"
    "  kind TEXT NOT NULL DEFAULT 'message'," /* message | call */
    "  contact_id TEXT NOT NULL,"
    "  text TEXT NOT NULL,"
    "  state TEXT NOT NULL,"                /* pending sent delivered read failed expired */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  platform_id TEXT,"
    "  error TEXT"
    ");"
    "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(id) WHERE state = 'pending';"
    "CREATE INDEX IF NOT EXISTS outbox_platform ON outbox(channel, platform_id)"
    "  WHERE platform_id IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS outbox_contact ON outbox(channel, contact_id, created_at);"
    "CREATE INDEX IF NOT EXISTS outbox_conversation ON outbox(conversation_id);"
    "CREATE TABLE IF NOT EXISTS inbound ("
    "  channel TEXT NOT NULL,"
    "  external_id TEXT NOT NULL,"
    "  conversation_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  PRIMARY KEY (channel, external_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS inbound_conversation ON inbound(conversation_id);"
    "CREATE INDEX IF NOT EXISTS conversations_contact"
    "  ON conversations(channel, customer_contact) WHERE state <> 'closed';";

/*
 * Version 3: messages become an append-only log (rowid order, so a turn's
 * messages fill a few pages at the end instead of one page per conversation
 * across the B-tree), and message_index finds a conversation's messages. The
 * index is written a conversation's batch at a time (file_queued); which
 * messages wait is kept in memory (msglog.c), and every id up to the
 * watermark store_state.messages_filed is filed, so an open reads the few
 * rows above it back into memory. AUTOINCREMENT: ids are never reused, even
 * after retention deleted the newest rows, so nothing new falls under the
 * watermark. The old table's rows move over in (conversation, seq) order.
 */
static const char schema_v3_sql[] =
    "ALTER TABLE messages RENAME TO messages_v2;"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  conversation_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  sender TEXT NOT NULL,"               /* customer | agent | bot | system */
    "  name TEXT,"
    "  agent_id TEXT,"
    "  text TEXT NOT NULL,"
    "  ts INTEGER NOT NULL"
    ");"
    "CREATE TABLE message_index ("
    "  conversation_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  id INTEGER NOT NULL,"                /* messages.id; the first copy of a seq wins */
    "  PRIMARY KEY (conversation_id, seq)"
    ") WITHOUT ROWID;"
    "CREATE TABLE store_state ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO messages (conversation_id, seq, sender, name, agent_id, text, ts)"
    "  SELECT conversation_id, seq, sender, name, agent_id, text, ts FROM messages_v2"
    "  ORDER BY conversation_id, seq;"
    "INSERT INTO message_index (conversation_id, seq, id)"
    "  SELECT conversation_id, seq, id FROM messages ORDER BY conversation_id, seq;"
    "INSERT INTO store_state (key, value)"
    "  VALUES ('messages_filed', (SELECT COALESCE(MAX(id), 0) FROM messages));"
    "DROP TABLE messages_v2;";

/* The conversations columns, in the order of every statement below. */
#define CONV_COLUMNS \
    "id, channel, media, state, language, topic, pool, agent_id, skills, relaxed, " \
    "priority, customer_name, customer_email, customer_contact, attributes, " \
    "token_sha256, created_at, arrival, entered_pool_at, first_response_at, " \
    "escalations, bot_fallbacks, last_seq, closed_at"
enum {
    C_ID, C_CHANNEL, C_MEDIA, C_STATE, C_LANGUAGE, C_TOPIC, C_POOL, C_AGENT_ID,
    C_SKILLS, C_RELAXED, C_PRIORITY, C_NAME, C_EMAIL, C_CONTACT, C_ATTRIBUTES,
    C_TOKEN, C_CREATED_AT, C_ARRIVAL, C_ENTERED_POOL_AT, C_FIRST_RESPONSE_AT,
    C_ESCALATIONS, C_BOT_FALLBACKS, C_LAST_SEQ, C_CLOSED_AT, C__COUNT
};

/* The outbox columns, in the order of sb_outbox_row_t. */
#define OUTBOX_COLUMNS \
    "id, channel, conversation_id, seq, part, kind, contact_id, text, state, attempts, " \
    "next_attempt_at, created_at, updated_at, platform_id, error"
/* Where a row's state stands: pending 0, sent 1, delivered 2, read 3, ended 9. */
#define OUTBOX_RANK \
    "(CASE state WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 " \
    "WHEN 'read' THEN 3 ELSE 9 END)"

/* Statements prepared once per connection. */
enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_SAVE_CONV, S_APPEND_MESSAGE, S_APPEND_NOTE, S_APPEND_EVENT,
    S_CONV, S_MESSAGES, S_NOTES, S_EVENTS, S_OPEN_IDS,
    S_OUTBOX_PUT, S_OUTBOX_UPDATE, S_OUTBOX_LOAD, S_OUTBOX_MAX, S_OUTBOX_MARK_ID,
    S_OUTBOX_MARK_CONTACT, S_INBOUND_GET, S_INBOUND_PUT, S_FIND_OPEN,
    S_LOG_MAX, S_FILED_GET, S_FILED_SET, S_INDEX_PUT, S_LOG_DROP, S_MESSAGE_BY_ID, S_TAIL,
    S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVE_CONV] =
        "INSERT INTO conversations (" CONV_COLUMNS ") VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
        "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24) "
        "ON CONFLICT(id) DO UPDATE SET "
        "channel = excluded.channel, media = excluded.media, state = excluded.state, "
        "language = excluded.language, topic = excluded.topic, pool = excluded.pool, "
        "agent_id = excluded.agent_id, skills = excluded.skills, "
        "relaxed = excluded.relaxed, priority = excluded.priority, "
        "customer_name = excluded.customer_name, customer_email = excluded.customer_email, "
        "customer_contact = excluded.customer_contact, attributes = excluded.attributes, "
        "token_sha256 = excluded.token_sha256, created_at = excluded.created_at, "
        "arrival = excluded.arrival, entered_pool_at = excluded.entered_pool_at, "
        "first_response_at = excluded.first_response_at, "
        "escalations = excluded.escalations, bot_fallbacks = excluded.bot_fallbacks, "
        "last_seq = MAX(conversations.last_seq, excluded.last_seq), "
        "closed_at = CASE WHEN excluded.closed_at IS NULL THEN NULL "
        "            ELSE COALESCE(conversations.closed_at, excluded.closed_at) END",
    [S_APPEND_MESSAGE] =
        "INSERT INTO messages "
        "(conversation_id, seq, sender, name, agent_id, text, ts) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_APPEND_NOTE] =
        "INSERT OR IGNORE INTO notes (conversation_id, n, agent_id, text, ts) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_APPEND_EVENT] =
        "INSERT OR IGNORE INTO events "
        "(conversation_id, n, kind, ts, pool, from_pool, agent_id, esc_kind, reason, note) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_CONV] = "SELECT " CONV_COLUMNS " FROM conversations WHERE id = ?1",
    /* the filed ones; those still waiting are read by id (S_MESSAGE_BY_ID) */
    [S_MESSAGES] =
        "SELECT m.seq, m.sender, m.name, m.agent_id, m.text, m.ts "
        "FROM message_index i JOIN messages m ON m.id = i.id "
        "WHERE i.conversation_id = ?1 AND i.seq > ?2 ORDER BY i.seq",
    [S_NOTES] =
        "SELECT agent_id, text, ts FROM notes WHERE conversation_id = ?1 ORDER BY n",
    [S_EVENTS] =
        "SELECT kind, ts, pool, from_pool, agent_id, esc_kind, reason, note FROM events "
        "WHERE conversation_id = ?1 ORDER BY n",
    [S_OPEN_IDS] =
        "SELECT id FROM conversations WHERE state <> 'closed' "
        "ORDER BY priority DESC, arrival, id",
    [S_OUTBOX_PUT] =
        "INSERT OR IGNORE INTO outbox (" OUTBOX_COLUMNS ") VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [S_OUTBOX_UPDATE] =
        "UPDATE outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, "
        "updated_at = ?5, platform_id = ?6, error = ?7 WHERE id = ?1",
    [S_OUTBOX_LOAD] =
        "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE state = 'pending' ORDER BY id",
    [S_OUTBOX_MAX] = "SELECT COALESCE(MAX(id), 0) FROM outbox",
    [S_OUTBOX_MARK_ID] =
        "UPDATE outbox SET state = ?1, error = COALESCE(?2, error), updated_at = ?3 "
        "WHERE channel = ?4 AND platform_id = ?5 AND " OUTBOX_RANK " < ?6 "
        "RETURNING " OUTBOX_COLUMNS,
    [S_OUTBOX_MARK_CONTACT] =
        "UPDATE outbox SET state = ?1, error = COALESCE(?2, error), updated_at = ?3 "
        "WHERE channel = ?4 AND contact_id = ?5 AND created_at <= ?7 "
        "AND state <> 'pending' AND " OUTBOX_RANK " < ?6 "
        "RETURNING " OUTBOX_COLUMNS,
    [S_INBOUND_GET] =
        "SELECT conversation_id, seq FROM inbound WHERE channel = ?1 AND external_id = ?2",
    [S_INBOUND_PUT] =
        "INSERT OR IGNORE INTO inbound (channel, external_id, conversation_id, seq, ts) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_FIND_OPEN] =
        "SELECT id FROM conversations WHERE channel = ?1 AND customer_contact = ?2 "
        "AND state <> 'closed' ORDER BY created_at DESC, id LIMIT 1",
    [S_LOG_MAX] = "SELECT COALESCE(MAX(id), 0) FROM messages",
    [S_FILED_GET] = "SELECT value FROM store_state WHERE key = 'messages_filed'",
    [S_FILED_SET] = "UPDATE store_state SET value = ?1 WHERE key = 'messages_filed'",
    /* the first copy of a seq wins; a later one is deleted (S_LOG_DROP) */
    [S_INDEX_PUT] =
        "INSERT OR IGNORE INTO message_index (conversation_id, seq, id) VALUES (?1, ?2, ?3)",
    /* only a copy that the index does not point to */
    [S_LOG_DROP] =
        "DELETE FROM messages WHERE id = ?2 AND NOT EXISTS (SELECT 1 FROM message_index "
        "WHERE conversation_id = ?1 AND seq = ?3 AND id = ?2)",
    [S_MESSAGE_BY_ID] =
        "SELECT seq, sender, name, agent_id, text, ts FROM messages WHERE id = ?1",
    /* above the watermark, not filed yet */
    [S_TAIL] =
        "SELECT m.id, m.conversation_id, m.seq FROM messages m WHERE m.id > ?1 AND NOT EXISTS "
        "(SELECT 1 FROM message_index i WHERE i.conversation_id = m.conversation_id "
        "AND i.seq = m.seq AND i.id = m.id) ORDER BY m.id",
};

typedef struct sqlite_store {
    const sb_config_t *cfg;        /* borrowed */
    char *path;
    bool memory;                   /* ":memory:": no WAL, never reopened */
    bool uri;                      /* "file:..." URI: no directory handling */
    sqlite3 *db;                   /* NULL while unavailable */
    sqlite3_stmt *stmt[S__COUNT];
    bool in_txn;
    int txn_err;                   /* first failed write of the open transaction */
    bool reopen;                   /* try a fresh connection before the next write */
    int last_rc;                   /* SQLite code of the last failure */
    bool failing;                  /* failures since the last commit: logged once */
    bool checkpoint_due;           /* the WAL passed CHECKPOINT_FRAMES */
    msglog_t log;                  /* logged messages not filed yet */
    int64_t filed;                 /* message log watermark, committed */
    int64_t filed_txn;             /* the same inside the open transaction */
    int64_t log_max;               /* the last message id written */
    int64_t log_max_committed;
    int64_t swept_at;              /* log_max at the last sweep for old messages */
} sqlite_store_t;

/* Loud for the first failure after a success, quiet while it goes on. */
#define failure_log(s, ...) \
    sb_log((s)->failing ? SB_LOG_DEBUG : SB_LOG_ERROR, __VA_ARGS__)

/* --- errors ---------------------------------------------------------------- */

/* The SB_E* code for a SQLite result code. */
static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
        return SB_EUNAVAIL;
    case SQLITE_NOMEM:
        return SB_ENOMEM;
    case SQLITE_TOOBIG:
        return SB_ETOOLARGE;
    case SQLITE_CONSTRAINT:
        return SB_ECONFLICT;
    default:                       /* IOERR, CORRUPT, NOTADB, MISUSE, ... */
        return SB_EIO;
    }
}

/* Errors after which a fresh connection may succeed where this one cannot. */
static bool needs_reopen(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        return true;
    default:
        return false;
    }
}

/*
 * Logs a failed SQLite call on db (the store's or one being opened) and
 * notes what it requires: a reopen for a file that stopped being writable.
 * Returns the SB_E* code. Cannot fail.
 */
static int report(sqlite_store_t *s, sqlite3 *db, int rc, const char *what)
{
    s->last_rc = rc;
    failure_log(s, "store: %s: %s: %s (SQLite %d)", s->path, what,
                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    s->failing = true;
    if (needs_reopen(rc) && !s->memory)
        s->reopen = true;
    return map_rc(rc);
}

/* A write failed: inside a transaction the whole transaction has failed. */
static int write_failed(sqlite_store_t *s, int err)
{
    if (s->in_txn && !s->txn_err) {
        s->txn_err = err;
        sb_debug("store: %s: the open transaction will be rolled back", s->path);
    }
    return err;
}

/* --- connections ----------------------------------------------------------- */

/* Creates the directories above path (like mkdir -p); 0 or SB_EUNAVAIL. */
static int make_parent_dirs(const char *path)
{
    char *dir = sb_strdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;

    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; ; p++) {
            char c = *p;
            if (c != '/' && c != '\0')
                continue;
            *p = '\0';
            if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
                sb_error("store: cannot create directory %s: %s", dir, strerror(errno));
                rc = SB_EUNAVAIL;
                break;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    free(dir);
    return rc;
}

/* Whether path+suffix, when it exists, is writable by this process. */
static bool file_writable(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    char *name = sb_malloc(n + m + 1);
    bool ok;

    memcpy(name, path, n);
    memcpy(name + n, suffix, m + 1);
    ok = access(name, W_OK) == 0 || errno == ENOENT;
    free(name);
    return ok;
}

/*
 * A cheap look before a reopen: whether the database, its WAL files and its
 * directory look writable. (access() checks the real uid, which a daemon
 * runs with.) URIs are not looked at. Cannot fail.
 */
static bool looks_writable(const sqlite_store_t *s)
{
    char *dir, *slash;
    bool ok;

    if (s->uri)
        return true;
    dir = sb_strdup(s->path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    ok = access(slash ? dir : ".", W_OK | X_OK) == 0;
    free(dir);
    return ok && file_writable(s->path, "") && file_writable(s->path, "-wal") &&
           file_writable(s->path, "-shm");
}

static void close_conn(sqlite_store_t *s, sqlite3 *db, sqlite3_stmt **stmt)
{
    int rc;

    for (int i = 0; i < S__COUNT; i++) {
        sqlite3_finalize(stmt[i]);
        stmt[i] = NULL;
    }
    if (!db)
        return;
    rc = sqlite3_close(db);
    if (rc != SQLITE_OK) {
        report(s, db, rc, "close");
        sqlite3_close_v2(db);      /* freed once whatever holds it lets go */
    }
}

/* Runs sql with no result rows; the SQLite code. */
static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The single integer a query returns, in *out; the SQLite code. */
static int query_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

/* Creates the schema, or checks that the database has ours. 0 or SB_E*. */
static int setup_schema(sqlite_store_t *s, sqlite3 *db)
{
    int version = 0, rc;
    char sql[64];

    rc = query_int(db, "PRAGMA user_version", &version);
    if (rc != SQLITE_OK)
        return report(s, db, rc, "reading the schema version");
    if (version == SCHEMA_VERSION)
        return 0;
    if (version > SCHEMA_VERSION) {
        sb_error("store: %s: schema version %d is newer than this build's %d",
                 s->path, version, SCHEMA_VERSION);
        return SB_EIO;
    }
    /* version 0: a new database; 1 and 2: add what the later versions added. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
    rc = exec_sql(db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK && version == 0)
        rc = exec_sql(db, schema_sql);
    if (rc == SQLITE_OK && version < 2)
        rc = exec_sql(db, schema_v2_sql);
    if (rc == SQLITE_OK)
        rc = exec_sql(db, schema_v3_sql);
    if (rc == SQLITE_OK)
        rc = exec_sql(db, sql);
    if (rc == SQLITE_OK)
        rc = exec_sql(db, "COMMIT");
    if (rc != SQLITE_OK) {
        int err = report(s, db, rc, "creating the schema");
        if (!sqlite3_get_autocommit(db))
            exec_sql(db, "ROLLBACK");
        return err;
    }
    return 0;
}

static int log_setup(sqlite_store_t *s, sqlite3 *db, sqlite3_stmt **stmt);

/*
 * After each commit, with the WAL's length in frames. SQLite's own
 * auto-checkpoint would copy the WAL into the database here, inside the
 * commit, so the turn's frames would wait for it; instead the hub asks for it
 * once they are out (sqlite_maintain). If nobody does, here after all.
 */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    sqlite_store_t *s = arg;

    if (frames >= CHECKPOINT_NOW) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        s->checkpoint_due = false;
    } else if (frames >= CHECKPOINT_FRAMES) {
        s->checkpoint_due = true;
    }
    return SQLITE_OK;
}

static bool sqlite_maintenance_due(void *impl)
{
    return ((sqlite_store_t *)impl)->checkpoint_due;
}

static void sqlite_maintain(void *impl)
{
    sqlite_store_t *s = impl;
    int rc;

    if (!s->checkpoint_due || s->in_txn || !s->db)
        return;
    s->checkpoint_due = false;
    rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK)
        sb_debug("store: checkpoint: %s", sqlite3_errstr(rc));
}

/*
 * Opens a connection to s->path, sets it up (WAL, synchronous, busy timeout,
 * schema) and prepares the statements into *dbp and stmt. 0 or SB_E*, with
 * s->last_rc the SQLite code; nothing is left open on failure.
 */
static int connect_db(sqlite_store_t *s, sqlite3 **dbp, sqlite3_stmt **stmt)
{
    /* NOMUTEX: the connection is the loop thread's alone */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
                SQLITE_OPEN_NOMUTEX;
    sqlite3 *db = NULL;
    int rc, err;

    *dbp = NULL;
    if (!s->memory && !s->uri && (err = make_parent_dirs(s->path)) != 0) {
        s->last_rc = SQLITE_CANTOPEN;
        return err;
    }
    rc = sqlite3_open_v2(s->path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        err = report(s, db, rc, "open");
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);

    if (!s->memory) {
        sqlite3_stmt *q;
        rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &q, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(q);
            if (rc == SQLITE_ROW) {
                const char *mode = (const char *)sqlite3_column_text(q, 0);
                if (!mode || strcmp(mode, "wal") != 0)
                    sb_warn("store: %s: journal mode is %s, not wal", s->path,
                            mode ? mode : "unknown");
                rc = SQLITE_OK;
            }
            sqlite3_finalize(q);
        }
        if (rc != SQLITE_OK) {
            err = report(s, db, rc, "setting WAL mode");
            goto fail;
        }
    }
    rc = exec_sql(db, s->cfg->store_sync == SB_SYNC_NORMAL ? "PRAGMA synchronous = NORMAL"
                                                           : "PRAGMA synchronous = FULL");
    if (rc != SQLITE_OK) {
        err = report(s, db, rc, "setting synchronous");
        goto fail;
    }
    /* Page cache: see docs/store.md ("Tuning"). */
    rc = exec_sql(db, "PRAGMA cache_size = -" CACHE_KIB);
    if (!s->memory)
        sqlite3_wal_hook(db, wal_hook, s);      /* instead of SQLite's auto-checkpoint */
    if (rc != SQLITE_OK) {
        err = report(s, db, rc, "setting the cache size");
        goto fail;
    }
    if ((err = setup_schema(s, db)) != 0)
        goto fail;
    for (int i = 0; i < S__COUNT; i++) {
        rc = sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &stmt[i], NULL);
        if (rc != SQLITE_OK) {
            err = report(s, db, rc, "preparing a statement");
            goto fail;
        }
    }
    if ((rc = log_setup(s, db, stmt)) != SQLITE_OK) {
        err = report(s, db, rc, "reading the message log's state");
        goto fail;
    }
    *dbp = db;
    return 0;

fail:
    close_conn(s, db, stmt);
    return err;
}

/* --- the message log ------------------------------------------------------ */

/* Steps a one-integer query (bound by the caller) into *out; SQLite code. */
static int step_int(sqlite3_stmt *q, int64_t *out)
{
    int rc = sqlite3_step(q);

    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_CORRUPT;        /* the row must be there */
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc;
}

/* Binds ?1 (and ?2, ?3 when given), steps q once and resets it; SQLite code. */
static int step_ids(sqlite3_stmt *q, const char *text, int64_t a, int64_t b)
{
    int i = 1, rc;

    if (text)
        sqlite3_bind_text(q, i++, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, i++, a);
    if (i <= sqlite3_bind_parameter_count(q))
        sqlite3_bind_int64(q, i, b);
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc;
}

/*
 * Files every queued conversation's waiting messages into message_index,
 * inside the open transaction (msglog_commit drops them from memory when it
 * commits). Each conversation's entries are in seq order, so they go into
 * one or two index pages. A second copy of a seq (a turn written again after
 * a commit that failed but had reached the disk) is deleted from the log.
 */
static int file_queued(sqlite_store_t *s, sqlite3 *db, sqlite3_stmt **stmt)
{
    msglog_t *log = &s->log;
    int rc;

    for (size_t i = 0; i < log->nto_file; i++) {
        msglog_conv_t *c = log->to_file[i];
        for (size_t j = 0; j < c->n; j++) {
            rc = step_ids(stmt[S_INDEX_PUT], c->id, (int64_t)c->v[j].seq, c->v[j].id);
            if (rc != SQLITE_DONE)
                return rc;
            if (sqlite3_changes(db) == 0 &&
                (rc = step_ids(stmt[S_LOG_DROP], c->id, c->v[j].id, (int64_t)c->v[j].seq)) !=
                    SQLITE_DONE)
                return rc;
        }
        c->file_n = c->n;
    }
    return SQLITE_OK;
}

/* Moves the watermark to just below the oldest message still waiting (in the
 * open transaction). SQLite code. */
static int move_watermark(sqlite_store_t *s, sqlite3_stmt **stmt)
{
    int64_t w = msglog_low(&s->log, s->log_max + 1) - 1;
    int rc;

    if (w <= s->filed_txn)
        return SQLITE_OK;
    if ((rc = step_ids(stmt[S_FILED_SET], NULL, w, 0)) != SQLITE_DONE)
        return rc;
    s->filed_txn = w;
    return SQLITE_OK;
}

/* Before a commit: the conversations due, and every FILE_SWEEP ids the ones
 * that waited too long and the watermark. SQLite code. */
static int file_due(sqlite_store_t *s)
{
    bool sweep = s->log_max - s->swept_at >= FILE_SWEEP;
    int rc;

    if (sweep)
        msglog_queue_older(&s->log, s->log_max - FILE_LAG);
    if (s->log.nto_file && (rc = file_queued(s, s->db, s->stmt)) != SQLITE_OK)
        return rc;
    if (sweep && (rc = move_watermark(s, s->stmt)) != SQLITE_OK)
        return rc;
    return SQLITE_OK;
}

/*
 * After a connection is made: reads the watermark and the log's rows above
 * it back into memory and, when the database can be written, files them all
 * in a transaction of its own, so that the recovery that follows reads every
 * conversation through the index. Rows that cannot be filed stay readable
 * (read_messages asks the log for them by id). SQLite code.
 */
static int log_setup(sqlite_store_t *s, sqlite3 *db, sqlite3_stmt **stmt)
{
    sqlite3_stmt *q = stmt[S_TAIL];
    int64_t filed = 0, rows = 0;
    int rc;

    msglog_clear(&s->log);
    if ((rc = step_int(stmt[S_FILED_GET], &filed)) != SQLITE_OK)
        return rc;
    s->filed = s->filed_txn = filed;
    if ((rc = step_int(stmt[S_LOG_MAX], &s->log_max)) != SQLITE_OK)
        return rc;
    s->log_max_committed = s->swept_at = s->log_max;
    sqlite3_bind_int64(q, 1, filed);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        msglog_add(&s->log, (const char *)sqlite3_column_text(q, 1), sqlite3_column_int64(q, 0),
                   (uint64_t)sqlite3_column_int64(q, 2));
        rows++;
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE)
        return rc;
    msglog_commit(&s->log);
    if (!rows || sqlite3_db_readonly(db, "main") == 1)
        return SQLITE_OK;
    msglog_queue_older(&s->log, INT64_MAX);
    rc = exec_sql(db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK)
        rc = file_queued(s, db, stmt);
    if (rc == SQLITE_OK)
        rc = move_watermark(s, stmt);
    if (rc == SQLITE_OK)
        rc = exec_sql(db, "COMMIT");
    if (rc != SQLITE_OK) {
        if (!sqlite3_get_autocommit(db))
            exec_sql(db, "ROLLBACK");
        msglog_rollback(&s->log);
        s->filed_txn = s->filed;
        sb_warn("store: %s: could not index the %lld newest messages (%s); they are "
                "read from the log", s->path, (long long)rows, sqlite3_errstr(rc));
        return SQLITE_OK;
    }
    msglog_commit(&s->log);
    s->filed = s->filed_txn;
    sb_info("store: %lld messages from the log indexed", (long long)rows);
    return SQLITE_OK;
}

/*
 * Replaces the connection with a fresh, writable one when the old one
 * stopped working. Only outside a transaction. 0 when the store has a
 * writable connection again, else SB_EUNAVAIL (the old connection, if any,
 * stays for reads).
 */
static int try_reopen(sqlite_store_t *s)
{
    sqlite3_stmt *stmt[S__COUNT] = { 0 };
    sqlite3 *db;
    int err;

    if (!looks_writable(s))
        return SB_EUNAVAIL;
    /* The old connection goes first, so that it lets go of the WAL files. */
    close_conn(s, s->db, s->stmt);
    s->db = NULL;
    err = connect_db(s, &db, stmt);
    if (err != 0)
        return err;
    if (sqlite3_db_readonly(db, "main") == 1) {
        close_conn(s, db, stmt);
        return SB_EUNAVAIL;
    }
    s->db = db;
    memcpy(s->stmt, stmt, sizeof(stmt));
    s->reopen = false;
    sb_info("store: %s: reopened, writable again", s->path);
    return 0;
}

/* Before a write or read outside a transaction: a usable connection, reopened
 * when the last one failed. 0 or SB_EUNAVAIL. */
static int ensure_db(sqlite_store_t *s)
{
    if (s->reopen && !s->in_txn)
        try_reopen(s);
    if (!s->db) {
        failure_log(s, "store: %s: no usable database", s->path);
        s->failing = true;
        return SB_EUNAVAIL;
    }
    return 0;
}

/* Before a write: 0, or why it cannot be done (an earlier write of this
 * transaction failed; no connection). */
static int write_enter(sqlite_store_t *s)
{
    if (s->in_txn)
        return s->txn_err;
    return ensure_db(s);
}

/* Steps a write statement to its end and resets it. 0 or SB_E*. */
static int run_write(sqlite_store_t *s, sqlite3_stmt *q, const char *what)
{
    int rc = sqlite3_step(q), err = 0;

    if (rc != SQLITE_DONE)
        err = report(s, s->db, rc, what);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return err ? write_failed(s, err) : 0;
}

/* Runs one of BEGIN / COMMIT / ROLLBACK. 0 or SB_E*. */
static int run_control(sqlite_store_t *s, int which, const char *what)
{
    sqlite3_stmt *q = s->stmt[which];
    int rc = sqlite3_step(q), err = 0;

    if (rc != SQLITE_DONE)
        err = report(s, s->db, rc, what);
    sqlite3_reset(q);
    return err;
}

/* --- open, close, transactions --------------------------------------------- */

static bool is_memory_path(const char *path)
{
    return strcmp(path, ":memory:") == 0 || strncmp(path, "file::memory:", 13) == 0 ||
           (strncmp(path, "file:", 5) == 0 && strstr(path, "mode=memory"));
}

/*
 * Opens cfg->store_path. A database that exists but cannot be written (a
 * read-only file or directory) opens anyway, loudly: every write fails with
 * SB_EUNAVAIL until the file is writable again, then the store reopens it by
 * itself. Anything else that fails is SB_E* and nothing is left open.
 */
static int sqlite_open(const sb_config_t *cfg, void **impl)
{
    sqlite_store_t *s;
    struct stat sb;
    int err;

    *impl = NULL;
    if (!cfg->store_path || !*cfg->store_path) {
        sb_error("store: no database path (store.path)");
        return SB_EINVAL;
    }
    s = sb_calloc(1, sizeof(*s));
    msglog_init(&s->log);
    s->cfg = cfg;
    s->path = sb_strdup(cfg->store_path);
    s->memory = is_memory_path(s->path);
    s->uri = strncmp(s->path, "file:", 5) == 0;

    err = connect_db(s, &s->db, s->stmt);
    if (err == 0) {
        if (!s->memory && sqlite3_db_readonly(s->db, "main") == 1) {
            sb_error("store: %s: the database is read-only: writes fail until it is "
                     "writable again", s->path);
            s->reopen = true;
        }
    } else if (!s->memory && !s->uri &&
               ((s->last_rc & 0xff) == SQLITE_READONLY ||
                ((s->last_rc & 0xff) == SQLITE_CANTOPEN && stat(s->path, &sb) == 0 &&
                 S_ISREG(sb.st_mode)))) {
        sb_error("store: %s: the database cannot be written: the store is unavailable "
                 "until it can", s->path);
        s->reopen = true;
    } else {
        free(s->path);
        free(s);
        return err;
    }
    sb_info("store: sqlite %s (%s, synchronous %s)", s->path,
            s->memory ? "in memory" : "wal",
            cfg->store_sync == SB_SYNC_NORMAL ? "normal" : "full");
    *impl = s;
    return 0;
}

/* What the message log's memory does when a transaction (or a write outside
 * one) reached the database. */
static void committed(sqlite_store_t *s)
{
    msglog_commit(&s->log);
    s->filed = s->filed_txn;
    if (s->log_max - s->swept_at >= FILE_SWEEP)
        s->swept_at = s->log_max;
    s->log_max_committed = s->log_max;
}

/* Rolls back what SQLite still has open; leaves no transaction. */
static int rollback_now(sqlite_store_t *s)
{
    int err = 0;

    if (s->db && !sqlite3_get_autocommit(s->db))
        err = run_control(s, S_ROLLBACK, "rollback");
    msglog_rollback(&s->log);
    s->filed_txn = s->filed;
    s->log_max = s->log_max_committed;
    s->in_txn = false;
    s->txn_err = 0;
    return err;
}

static void sqlite_close(void *impl)
{
    sqlite_store_t *s = impl;

    if (!s)
        return;
    if (s->in_txn) {
        sb_warn("store: %s: closing inside a transaction: rolled back", s->path);
        rollback_now(s);
    }
    close_conn(s, s->db, s->stmt);
    msglog_free(&s->log);
    free(s->path);
    free(s);
}

static int sqlite_begin(void *impl)
{
    sqlite_store_t *s = impl;
    int err;

    if (s->in_txn)
        return 0;
    if ((err = ensure_db(s)) != 0)
        return err;
    if ((err = run_control(s, S_BEGIN, "begin")) != 0)
        return err;
    s->in_txn = true;
    s->txn_err = 0;
    return 0;
}

/* Commits; on any failure rolls back and returns the error. */
static int sqlite_commit(void *impl)
{
    sqlite_store_t *s = impl;
    int err;

    if (!s->in_txn)
        return 0;
    if (s->txn_err) {
        err = s->txn_err;
        rollback_now(s);
        sb_debug("store: %s: transaction rolled back after a failed write", s->path);
        return err;
    }
    {
        int rc = file_due(s);
        if (rc != SQLITE_OK) {
            err = report(s, s->db, rc, "indexing messages");
            rollback_now(s);
            return err;
        }
    }
    err = run_control(s, S_COMMIT, "commit");
    if (err) {
        rollback_now(s);
        return err;
    }
    committed(s);
    s->in_txn = false;
    s->failing = false;
    return 0;
}

static int sqlite_rollback(void *impl)
{
    sqlite_store_t *s = impl;

    if (!s->in_txn)
        return 0;
    return rollback_now(s);
}

/* --- writes ---------------------------------------------------------------- */

static const char *pool_id(const sb_config_t *cfg, int i)
{
    return i >= 0 && (size_t)i < cfg->npools ? cfg->pools[i].id : NULL;
}

static const char *topic_id(const sb_config_t *cfg, int i)
{
    return i >= 0 && (size_t)i < cfg->ntopics ? cfg->topics[i].id : NULL;
}

static const char *language_tag(const sb_config_t *cfg, int i)
{
    return i >= 0 && (size_t)i < cfg->nlanguages ? cfg->languages[i] : NULL;
}

static const char *skill_id(const sb_config_t *cfg, int i)
{
    return i >= 0 && (size_t)i < cfg->nskills ? cfg->skills[i] : NULL;
}

static const char *media_name(sb_media_t m)
{
    return m == SB_MEDIA_VOICE ? "voice" : "chat";
}

/* The required skills as JSON text {"billing":7}; new string (free()). */
static char *skills_json(const sb_config_t *cfg, const sb_conv_t *c)
{
    json_t *o = json_object();
    char *text;

    for (size_t i = 0; i < c->nskills; i++) {
        const char *id = skill_id(cfg, c->skills[i].skill);
        if (!id) {
            sb_warn("store: conversation %s: skill index %d is not configured; not saved",
                    c->id, c->skills[i].skill);
            continue;
        }
        json_object_set_new(o, id, json_integer(c->skills[i].level));
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* When a closed conversation closed: its last "closed" event, else the last
 * thing that happened in it. */
static sb_ms_t closed_at(const sb_conv_t *c)
{
    sb_ms_t t = c->created_at;

    for (size_t i = c->nhistory; i-- > 0;)
        if (c->history[i].kind == SB_EV_CLOSED)
            return c->history[i].ts;
    if (c->nhistory && c->history[c->nhistory - 1].ts > t)
        t = c->history[c->nhistory - 1].ts;
    if (c->nmsgs && c->msgs[c->nmsgs - 1].ts > t)
        t = c->msgs[c->nmsgs - 1].ts;
    return t;
}

static void bind_text(sqlite3_stmt *q, int i, const char *text)
{
    sqlite3_bind_text(q, i, text, -1, SQLITE_STATIC);
}

static void bind_id(sqlite3_stmt *q, int i, const sb_conv_t *c)
{
    sqlite3_bind_text(q, i, c->id, (int)strnlen(c->id, sizeof(c->id)), SQLITE_STATIC);
}

/* The 1-based position of item in array base[0..count), or count when it
 * is not in it (then it is taken to be the newest). */
static int64_t position(const void *base, size_t count, size_t size, const void *item)
{
    uintptr_t b = (uintptr_t)base, p = (uintptr_t)item;

    if (base && p >= b && p < b + count * size && (p - b) % size == 0)
        return (int64_t)((p - b) / size) + 1;
    return (int64_t)count;
}

static int sqlite_save_conv(void *impl, const sb_conv_t *c)
{
    sqlite_store_t *s = impl;
    const sb_config_t *cfg = s->cfg;
    sqlite3_stmt *q;
    const char *agent = c->agent && c->agent->cfg ? c->agent->cfg->id : NULL;
    char *skills, *attributes = NULL;
    int err;

    if ((err = write_enter(s)) != 0)
        return err;
    q = s->stmt[S_SAVE_CONV];
    skills = skills_json(cfg, c);
    if (c->attributes) {
        attributes = json_dumps(c->attributes, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!attributes)
            sb_warn("store: conversation %s: attributes cannot be encoded; not saved", c->id);
    }
    if (!pool_id(cfg, c->pool))
        sb_warn("store: conversation %s: pool index %d is not configured", c->id, c->pool);
    if (!language_tag(cfg, c->language))
        sb_warn("store: conversation %s: language index %d is not configured",
                c->id, c->language);

    bind_id(q, 1 + C_ID, c);
    sqlite3_bind_text(q, 1 + C_CHANNEL, c->channel,
                      (int)strnlen(c->channel, sizeof(c->channel)), SQLITE_STATIC);
    bind_text(q, 1 + C_MEDIA, media_name(c->media));
    bind_text(q, 1 + C_STATE, sb_conv_state_name(c->state));
    bind_text(q, 1 + C_LANGUAGE, language_tag(cfg, c->language));
    bind_text(q, 1 + C_TOPIC, topic_id(cfg, c->topic));
    bind_text(q, 1 + C_POOL, pool_id(cfg, c->pool));
    bind_text(q, 1 + C_AGENT_ID, agent);
    bind_text(q, 1 + C_SKILLS, skills ? skills : "{}");
    sqlite3_bind_int(q, 1 + C_RELAXED, c->relaxed);
    sqlite3_bind_int(q, 1 + C_PRIORITY, c->priority);
    bind_text(q, 1 + C_NAME, c->customer_name);
    bind_text(q, 1 + C_EMAIL, c->customer_email);
    bind_text(q, 1 + C_CONTACT, c->customer_contact);
    bind_text(q, 1 + C_ATTRIBUTES, attributes);
    sqlite3_bind_blob(q, 1 + C_TOKEN, c->token_sha256, sizeof(c->token_sha256),
                      SQLITE_STATIC);
    sqlite3_bind_int64(q, 1 + C_CREATED_AT, c->created_at);
    sqlite3_bind_int64(q, 1 + C_ARRIVAL, c->arrival);
    sqlite3_bind_int64(q, 1 + C_ENTERED_POOL_AT, c->entered_pool_at);
    sqlite3_bind_int64(q, 1 + C_FIRST_RESPONSE_AT, c->first_response_at);
    sqlite3_bind_int(q, 1 + C_ESCALATIONS, c->escalations);
    sqlite3_bind_int(q, 1 + C_BOT_FALLBACKS, c->bot_fallbacks);
    sqlite3_bind_int64(q, 1 + C_LAST_SEQ, (sqlite3_int64)c->last_seq);
    if (c->state == SB_CONV_CLOSED)
        sqlite3_bind_int64(q, 1 + C_CLOSED_AT, closed_at(c));
    else
        sqlite3_bind_null(q, 1 + C_CLOSED_AT);

    err = run_write(s, q, "saving a conversation");
    free(skills);
    free(attributes);
    if (!err && c->state == SB_CONV_CLOSED) {     /* no more messages: file them */
        msglog_conv_t *lc = msglog_find(&s->log, c->id);
        if (lc)
            msglog_queue(&s->log, lc);
    }
    return err;
}

static int sqlite_append_message(void *impl, const sb_conv_t *c, const sb_message_t *m)
{
    sqlite_store_t *s = impl;
    msglog_conv_t *lc;
    sqlite3_stmt *q;
    int err;

    if ((err = write_enter(s)) != 0)
        return err;
    q = s->stmt[S_APPEND_MESSAGE];
    bind_id(q, 1, c);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)m->seq);
    bind_text(q, 3, sb_from_name(m->from));
    bind_text(q, 4, m->name);
    bind_text(q, 5, m->agent_id);
    bind_text(q, 6, m->text ? m->text : "");
    sqlite3_bind_int64(q, 7, m->ts);
    if ((err = run_write(s, q, "appending a message")) != 0)
        return err;
    s->log_max = sqlite3_last_insert_rowid(s->db);
    lc = msglog_add(&s->log, c->id, s->log_max, m->seq);
    if (lc->n >= FILE_BATCH)
        msglog_queue(&s->log, lc);
    if (!s->in_txn)
        committed(s);       /* autocommit: filed with the next transaction */
    return 0;
}

static int sqlite_append_note(void *impl, const sb_conv_t *c, const sb_note_t *note)
{
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    int err;

    if ((err = write_enter(s)) != 0)
        return err;
    q = s->stmt[S_APPEND_NOTE];
    bind_id(q, 1, c);
    sqlite3_bind_int64(q, 2, position(c->notes, c->nnotes, sizeof(*note), note));
    bind_text(q, 3, note->agent_id);
    bind_text(q, 4, note->text ? note->text : "");
    sqlite3_bind_int64(q, 5, note->ts);
    return run_write(s, q, "appending a note");
}

static int sqlite_append_event(void *impl, const sb_conv_t *c, const sb_event_t *ev)
{
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    int err;

    if ((err = write_enter(s)) != 0)
        return err;
    q = s->stmt[S_APPEND_EVENT];
    bind_id(q, 1, c);
    sqlite3_bind_int64(q, 2, position(c->history, c->nhistory, sizeof(*ev), ev));
    bind_text(q, 3, sb_event_name(ev->kind));
    sqlite3_bind_int64(q, 4, ev->ts);
    bind_text(q, 5, pool_id(s->cfg, ev->pool));
    bind_text(q, 6, pool_id(s->cfg, ev->from_pool));
    bind_text(q, 7, ev->agent_id);
    bind_text(q, 8, ev->esc_kind);
    bind_text(q, 9, ev->reason);
    bind_text(q, 10, ev->note);
    return run_write(s, q, "appending an event");
}

/* --- reads ----------------------------------------------------------------- */

/* Column i as a new string, NULL for SQL NULL. */
static char *col_dup(sqlite3_stmt *q, int i)
{
    const char *text = (const char *)sqlite3_column_text(q, i);

    return text ? sb_strndup(text, (size_t)sqlite3_column_bytes(q, i)) : NULL;
}

static int from_by_name(const char *name)
{
    for (int f = SB_FROM_CUSTOMER; f <= SB_FROM_SYSTEM; f++)
        if (name && strcmp(sb_from_name((sb_from_t)f), name) == 0)
            return f;
    return -1;
}

static int state_by_name(const char *name)
{
    for (int st = SB_CONV_BOT; st <= SB_CONV_CLOSED; st++)
        if (name && strcmp(sb_conv_state_name((sb_conv_state_t)st), name) == 0)
            return st;
    return -1;
}

static int event_by_name(const char *name)
{
    for (int k = 0; k < SB_EV__COUNT; k++)
        if (name && strcmp(sb_event_name((sb_event_kind_t)k), name) == 0)
            return k;
    return -1;
}

/* Pool index for a stored pool id; fallback (with a warning) when unknown. */
static int resolve_pool(const sqlite_store_t *s, const char *conv, const char *id,
                        int fallback)
{
    int i;

    if (!id)
        return fallback;
    i = sb_config_pool(s->cfg, id);
    if (i < 0)
        sb_warn("store: conversation %s: pool \"%s\" is no longer configured", conv, id);
    return i < 0 ? fallback : i;
}

static void free_messages(sb_message_t *msgs, size_t n)
{
    if (!msgs)
        return;
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].name);
        free(msgs[i].agent_id);
        free(msgs[i].text);
    }
    free(msgs);
}

/* Frees what a scratch conversation still holds (the callback may have
 * taken members, leaving NULL). */
static void free_scratch(sb_conv_t *c)
{
    free(c->customer_name);
    free(c->customer_email);
    free(c->customer_contact);
    free(c->skills);
    json_decref(c->attributes);
    free_messages(c->msgs, c->nmsgs);
    if (c->notes)
        for (size_t i = 0; i < c->nnotes; i++) {
            free(c->notes[i].agent_id);
            free(c->notes[i].text);
        }
    free(c->notes);
    if (c->history)
        for (size_t i = 0; i < c->nhistory; i++) {
            free(c->history[i].agent_id);
            free(c->history[i].esc_kind);
            free(c->history[i].reason);
            free(c->history[i].note);
        }
    free(c->history);
    memset(c, 0, sizeof(*c));
}

/* One row (seq, sender, name, agent_id, text, ts) into m. */
static void fill_message(const char *conv_id, sqlite3_stmt *q, sb_message_t *m)
{
    int from;

    m->seq = (uint64_t)sqlite3_column_int64(q, 0);
    from = from_by_name((const char *)sqlite3_column_text(q, 1));
    if (from < 0)
        sb_warn("store: conversation %s: message %llu has an unknown sender",
                conv_id, (unsigned long long)m->seq);
    m->from = from < 0 ? SB_FROM_SYSTEM : (sb_from_t)from;
    m->name = col_dup(q, 2);
    m->agent_id = col_dup(q, 3);
    m->text = col_dup(q, 4);
    m->ts = sqlite3_column_int64(q, 5);
}

static sb_message_t *msgs_grow(sb_message_t *msgs, size_t count, size_t *cap)
{
    if (count < *cap)
        return msgs;
    *cap = *cap ? *cap * 2 : 16;
    return sb_realloc(msgs, *cap * sizeof(*msgs));
}

/*
 * Reads conv_id's messages with seq > after into a new array (*out, *n), in
 * seq order: the filed ones through the index, then those still waiting in
 * the log (by id; a seq already read is a second copy and skipped). 0 or
 * SB_E* with nothing allocated.
 */
static int read_messages(sqlite_store_t *s, const char *conv_id, uint64_t after,
                         sb_message_t **out, size_t *n)
{
    sqlite3_stmt *q = s->stmt[S_MESSAGES];
    const msglog_conv_t *lc = msglog_find(&s->log, conv_id);
    sb_message_t *msgs = NULL;
    size_t count = 0, cap = 0;
    int rc, err = 0;

    bind_text(q, 1, conv_id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)after);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        msgs = msgs_grow(msgs, count, &cap);
        fill_message(conv_id, q, &msgs[count++]);
    }
    if (rc != SQLITE_DONE)
        err = report(s, s->db, rc, "reading messages");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);

    q = s->stmt[S_MESSAGE_BY_ID];
    for (size_t j = 0; lc && j < lc->n && !err; j++) {
        uint64_t seq = lc->v[j].seq;
        size_t at = count;
        if (seq <= after)
            continue;
        while (at > 0 && msgs[at - 1].seq > seq)     /* usually none: appended last */
            at--;
        if (at > 0 && msgs[at - 1].seq == seq)
            continue;
        sqlite3_bind_int64(q, 1, lc->v[j].id);
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            msgs = msgs_grow(msgs, count, &cap);
            memmove(&msgs[at + 1], &msgs[at], (count - at) * sizeof(*msgs));
            fill_message(conv_id, q, &msgs[at]);
            count++;
        } else if (rc != SQLITE_DONE) {
            err = report(s, s->db, rc, "reading messages");
        }
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
    }
    if (err) {
        free_messages(msgs, count);
        return err;
    }
    *out = msgs;
    *n = count;
    return 0;
}

static int read_notes(sqlite_store_t *s, sb_conv_t *c)
{
    sqlite3_stmt *q = s->stmt[S_NOTES];
    int rc, err = 0;

    bind_text(q, 1, c->id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        sb_note_t *note;
        if (c->nnotes == c->notes_cap) {
            c->notes_cap = c->notes_cap ? c->notes_cap * 2 : 4;
            c->notes = sb_realloc(c->notes, c->notes_cap * sizeof(*c->notes));
        }
        note = &c->notes[c->nnotes++];
        note->agent_id = col_dup(q, 0);
        note->text = col_dup(q, 1);
        note->ts = sqlite3_column_int64(q, 2);
    }
    if (rc != SQLITE_DONE)
        err = report(s, s->db, rc, "reading notes");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return err;
}

static int read_events(sqlite_store_t *s, sb_conv_t *c)
{
    sqlite3_stmt *q = s->stmt[S_EVENTS];
    int rc, err = 0;

    bind_text(q, 1, c->id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(q, 0);
        int k = event_by_name(kind);
        sb_event_t *ev;
        if (k < 0) {
            sb_warn("store: conversation %s: unknown event kind \"%s\" skipped",
                    c->id, kind ? kind : "");
            continue;
        }
        if (c->nhistory == c->history_cap) {
            c->history_cap = c->history_cap ? c->history_cap * 2 : 8;
            c->history = sb_realloc(c->history, c->history_cap * sizeof(*c->history));
        }
        ev = &c->history[c->nhistory++];
        ev->kind = (sb_event_kind_t)k;
        ev->ts = sqlite3_column_int64(q, 1);
        ev->pool = resolve_pool(s, c->id, (const char *)sqlite3_column_text(q, 2), -1);
        ev->from_pool = resolve_pool(s, c->id, (const char *)sqlite3_column_text(q, 3), -1);
        ev->agent_id = col_dup(q, 4);
        ev->esc_kind = col_dup(q, 5);
        ev->reason = col_dup(q, 6);
        ev->note = col_dup(q, 7);
    }
    if (rc != SQLITE_DONE)
        err = report(s, s->db, rc, "reading events");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return err;
}

/* Required skills from their JSON text, resolved through the configuration. */
static void parse_skills(const sqlite_store_t *s, sb_conv_t *c, const char *text)
{
    json_error_t jerr;
    json_t *o = text ? json_loads(text, 0, &jerr) : NULL;
    const char *id;
    json_t *level;

    if (!json_is_object(o)) {
        if (text && strcmp(text, "{}") != 0)
            sb_warn("store: conversation %s: unreadable skills %s", c->id, text);
        json_decref(o);
        return;
    }
    if (json_object_size(o) == 0) {
        json_decref(o);
        return;
    }
    c->skills = sb_calloc(json_object_size(o), sizeof(*c->skills));
    json_object_foreach(o, id, level) {
        int skill = sb_config_skill(s->cfg, id);
        json_int_t l = json_integer_value(level);
        if (skill < 0) {
            sb_warn("store: conversation %s: skill \"%s\" is no longer configured; dropped",
                    c->id, id);
            continue;
        }
        c->skills[c->nskills].skill = skill;
        c->skills[c->nskills].level = l < 0 ? 0 : l > 10 ? 10 : (int)l;
        c->nskills++;
    }
    json_decref(o);
}

/* The conversation row's columns into c and *agent_id (new string). */
static void fill_conv(const sqlite_store_t *s, sqlite3_stmt *q, sb_conv_t *c,
                      char **agent_id)
{
    const sb_config_t *cfg = s->cfg;
    const char *text;
    int v;

    text = (const char *)sqlite3_column_text(q, C_ID);
    snprintf(c->id, sizeof(c->id), "%s", text ? text : "");
    text = (const char *)sqlite3_column_text(q, C_CHANNEL);
    snprintf(c->channel, sizeof(c->channel), "%s", text ? text : "");
    text = (const char *)sqlite3_column_text(q, C_MEDIA);
    c->media = text && strcmp(text, "voice") == 0 ? SB_MEDIA_VOICE : SB_MEDIA_CHAT;

    text = (const char *)sqlite3_column_text(q, C_STATE);
    v = state_by_name(text);
    if (v < 0)
        sb_warn("store: conversation %s: unknown state \"%s\"; taken as queued",
                c->id, text ? text : "");
    c->state = v < 0 ? SB_CONV_QUEUED : (sb_conv_state_t)v;

    text = (const char *)sqlite3_column_text(q, C_LANGUAGE);
    v = sb_config_language(cfg, text);
    if (v < 0)
        sb_warn("store: conversation %s: language \"%s\" is no longer configured; "
                "default language used", c->id, text ? text : "");
    c->language = v < 0 ? cfg->default_language : v;

    text = (const char *)sqlite3_column_text(q, C_TOPIC);
    c->topic = text ? sb_config_topic(cfg, text) : -1;
    if (text && c->topic < 0)
        sb_warn("store: conversation %s: topic \"%s\" is no longer configured", c->id, text);

    text = (const char *)sqlite3_column_text(q, C_POOL);
    if (!text)
        sb_warn("store: conversation %s: no pool; default pool used", c->id);
    c->pool = resolve_pool(s, c->id, text, cfg->default_pool);

    *agent_id = col_dup(q, C_AGENT_ID);
    parse_skills(s, c, (const char *)sqlite3_column_text(q, C_SKILLS));
    c->relaxed = sqlite3_column_int(q, C_RELAXED);
    c->priority = sqlite3_column_int(q, C_PRIORITY);
    c->customer_name = col_dup(q, C_NAME);
    c->customer_email = col_dup(q, C_EMAIL);
    c->customer_contact = col_dup(q, C_CONTACT);

    text = (const char *)sqlite3_column_text(q, C_ATTRIBUTES);
    if (text) {
        json_error_t jerr;
        c->attributes = json_loads(text, 0, &jerr);
        if (!json_is_object(c->attributes)) {
            sb_warn("store: conversation %s: unreadable attributes dropped", c->id);
            json_decref(c->attributes);
            c->attributes = NULL;
        }
    }
    if (sqlite3_column_bytes(q, C_TOKEN) == (int)sizeof(c->token_sha256))
        memcpy(c->token_sha256, sqlite3_column_blob(q, C_TOKEN), sizeof(c->token_sha256));
    else if (sqlite3_column_type(q, C_TOKEN) != SQLITE_NULL)
        sb_warn("store: conversation %s: resume token hash has the wrong size", c->id);

    c->created_at = sqlite3_column_int64(q, C_CREATED_AT);
    c->arrival = sqlite3_column_int64(q, C_ARRIVAL);
    c->entered_pool_at = sqlite3_column_int64(q, C_ENTERED_POOL_AT);
    c->first_response_at = sqlite3_column_int64(q, C_FIRST_RESPONSE_AT);
    c->escalations = sqlite3_column_int(q, C_ESCALATIONS);
    c->bot_fallbacks = sqlite3_column_int(q, C_BOT_FALLBACKS);
    c->last_seq = (uint64_t)sqlite3_column_int64(q, C_LAST_SEQ);
}

/*
 * Reads one whole conversation into the zeroed scratch c and *agent_id.
 * 0, SB_ENOTFOUND, or SB_E*; on failure nothing is left allocated.
 */
static int read_conv(sqlite_store_t *s, const char *conv_id, sb_conv_t *c,
                     char **agent_id)
{
    sqlite3_stmt *q = s->stmt[S_CONV];
    int rc, err = 0;

    *agent_id = NULL;
    bind_text(q, 1, conv_id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        fill_conv(s, q, c, agent_id);
    else if (rc == SQLITE_DONE)
        err = SB_ENOTFOUND;
    else
        err = report(s, s->db, rc, "reading a conversation");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (err)
        return err;

    err = read_messages(s, c->id, 0, &c->msgs, &c->nmsgs);
    if (!err) {
        c->msgs_cap = c->nmsgs;
        for (size_t i = 0; i < c->nmsgs; i++)
            if (c->msgs[i].seq != i + 1) {
                sb_warn("store: conversation %s: transcript has a gap at seq %zu",
                        c->id, i + 1);
                break;
            }
        if (c->nmsgs && c->msgs[c->nmsgs - 1].seq > c->last_seq)
            c->last_seq = c->msgs[c->nmsgs - 1].seq;
        err = read_notes(s, c);
    }
    if (!err)
        err = read_events(s, c);
    if (err) {
        free_scratch(c);
        free(*agent_id);
        *agent_id = NULL;
    }
    return err;
}

/* Reads conv_id and hands it to cb; the callback's value, or SB_E*. A
 * missing row is SB_ENOTFOUND, or 0 (no call) when skip_missing. */
static int deliver_conv(sqlite_store_t *s, const char *conv_id, bool skip_missing,
                        sb_store_conv_cb cb, void *arg)
{
    sb_conv_t c;
    char *agent_id;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = read_conv(s, conv_id, &c, &agent_id)) != 0)
        return rc == SB_ENOTFOUND && skip_missing ? 0 : rc;
    rc = cb(arg, &c, agent_id);
    free_scratch(&c);
    free(agent_id);
    return rc;
}

/* Reads before they are delivered: every row first, so that a failure calls
 * no callback, and the statement is free again when the callbacks run. */
static int sqlite_load_messages(void *impl, const char *conv_id, uint64_t after_seq,
                                sb_store_message_cb cb, void *arg)
{
    sqlite_store_t *s = impl;
    sb_message_t *msgs = NULL;
    size_t n = 0;
    int rc;

    if ((rc = ensure_db(s)) != 0)
        return rc;
    if ((rc = read_messages(s, conv_id, after_seq, &msgs, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cb(arg, &msgs[i]);
    free_messages(msgs, n);
    return rc;
}

static int sqlite_load_conv(void *impl, const char *conv_id, sb_store_conv_cb cb, void *arg)
{
    sqlite_store_t *s = impl;
    int rc;

    if ((rc = ensure_db(s)) != 0)
        return rc;
    return deliver_conv(s, conv_id, false, cb, arg);
}

/* The ids first, then each conversation: callbacks may use the store. */
static int sqlite_load_open(void *impl, sb_store_conv_cb cb, void *arg)
{
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    char **ids = NULL;
    size_t n = 0, cap = 0;
    int rc, err = 0;

    if ((err = ensure_db(s)) != 0)
        return err;
    q = s->stmt[S_OPEN_IDS];
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            ids = sb_realloc(ids, cap * sizeof(*ids));
        }
        ids[n++] = col_dup(q, 0);
    }
    if (rc != SQLITE_DONE)
        err = report(s, s->db, rc, "listing open conversations");
    sqlite3_reset(q);

    for (size_t i = 0; i < n && err == 0; i++)   /* one gone since the listing: skipped */
        err = deliver_conv(s, ids[i], true, cb, arg);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    if (err == 0)
        sb_info("store: %zu open conversations read back", n);
    return err;
}

/*
 * Retention: deletes up to `limit` closed conversations closed before
 * `before`, with their messages, notes and events, in one short transaction
 * of its own. SB_ECONFLICT inside another transaction.
 */
static int sqlite_purge_closed(void *impl, sb_ms_t before, int limit, int *deleted)
{
    static const char *const steps[] = {
        "CREATE TEMP TABLE IF NOT EXISTS purge_ids (id TEXT PRIMARY KEY)",
        "DELETE FROM temp.purge_ids",
        NULL,   /* the selection, bound below */
        "DELETE FROM messages WHERE id IN (SELECT i.id FROM message_index i "
        "  WHERE i.conversation_id IN (SELECT id FROM temp.purge_ids))",
        "DELETE FROM messages WHERE id > (SELECT value FROM store_state "
        "  WHERE key = 'messages_filed') AND conversation_id IN (SELECT id FROM temp.purge_ids)",
        "DELETE FROM message_index WHERE conversation_id IN (SELECT id FROM temp.purge_ids)",
        "DELETE FROM notes WHERE conversation_id IN (SELECT id FROM temp.purge_ids)",
        "DELETE FROM events WHERE conversation_id IN (SELECT id FROM temp.purge_ids)",
        "DELETE FROM outbox WHERE conversation_id IN (SELECT id FROM temp.purge_ids)",
        "DELETE FROM inbound WHERE conversation_id IN (SELECT id FROM temp.purge_ids)",
        "DELETE FROM conversations WHERE id IN (SELECT id FROM temp.purge_ids)",
    };
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    int rc, err;

    *deleted = 0;
    if (s->in_txn)
        return SB_ECONFLICT;
    if ((err = ensure_db(s)) != 0)
        return err;
    if ((rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
        return report(s, s->db, rc, "retention: begin");
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (steps[i]) {
            rc = sqlite3_exec(s->db, steps[i], NULL, NULL, NULL);
        } else {
            rc = sqlite3_prepare_v2(s->db,
                                    "INSERT INTO temp.purge_ids SELECT id FROM conversations "
                                    "WHERE state = 'closed' AND closed_at < ?1 "
                                    "ORDER BY closed_at LIMIT ?2", -1, &q, NULL);
            if (rc == SQLITE_OK) {
                sqlite3_bind_int64(q, 1, before);
                sqlite3_bind_int(q, 2, limit);
                rc = sqlite3_step(q);
                if (rc == SQLITE_DONE)
                    rc = SQLITE_OK;
                sqlite3_finalize(q);
            }
        }
        if (rc != SQLITE_OK) {
            err = report(s, s->db, rc, "retention: deleting old conversations");
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return err;
        }
        if (i + 1 == sizeof(steps) / sizeof(steps[0]))
            *deleted = sqlite3_changes(s->db);
    }
    if ((rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
        err = report(s, s->db, rc, "retention: commit");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        *deleted = 0;
        return err;
    }
    /* their messages that waited to be filed are gone too */
    if (s->log.entries &&
        sqlite3_prepare_v2(s->db, "SELECT id FROM temp.purge_ids", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW)
            msglog_drop(&s->log, (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    return 0;
}

/* --- the channel adapters' outbox and inbound deduplication --------------- */

static void bind_outbox(sqlite3_stmt *q, const sb_outbox_row_t *r)
{
    sqlite3_bind_int64(q, 1, r->id);
    bind_text(q, 2, r->channel);
    bind_text(q, 3, r->conversation_id);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)r->seq);
    sqlite3_bind_int(q, 5, r->part);
    bind_text(q, 6, r->kind ? r->kind : "message");
    bind_text(q, 7, r->contact_id);
    bind_text(q, 8, r->text);
    bind_text(q, 9, r->state);
    sqlite3_bind_int(q, 10, r->attempts);
    sqlite3_bind_int64(q, 11, r->next_attempt_at);
    sqlite3_bind_int64(q, 12, r->created_at);
    sqlite3_bind_int64(q, 13, r->updated_at);
    bind_text(q, 14, r->platform_id);
    bind_text(q, 15, r->error);
}

static int sqlite_outbox_put(void *impl, const sb_outbox_row_t *r)
{
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    int err;

    if ((err = write_enter(s)) != 0)
        return err;
    q = s->stmt[S_OUTBOX_PUT];
    bind_outbox(q, r);
    return run_write(s, q, "storing an outbox message");
}

static int sqlite_outbox_update(void *impl, const sb_outbox_row_t *r)
{
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    int err;

    if ((err = write_enter(s)) != 0)
        return err;
    q = s->stmt[S_OUTBOX_UPDATE];
    sqlite3_bind_int64(q, 1, r->id);
    bind_text(q, 2, r->state);
    sqlite3_bind_int(q, 3, r->attempts);
    sqlite3_bind_int64(q, 4, r->next_attempt_at);
    sqlite3_bind_int64(q, 5, r->updated_at);
    bind_text(q, 6, r->platform_id);
    bind_text(q, 7, r->error);
    return run_write(s, q, "updating an outbox message");
}

/* Rows read back: the strings owned here (the row struct borrows them). */
typedef struct outbox_rows {
    sb_outbox_row_t *rows;
    size_t n, cap;
} outbox_rows_t;

static const char *col_text(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

static void outbox_rows_add(outbox_rows_t *v, sqlite3_stmt *q)
{
    sb_outbox_row_t *r;

    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->rows = sb_realloc(v->rows, v->cap * sizeof(*v->rows));
    }
    r = &v->rows[v->n++];
    r->id = sqlite3_column_int64(q, 0);
    r->channel = sb_strdup(col_text(q, 1));
    r->conversation_id = sb_strdup(col_text(q, 2));
    r->seq = (uint64_t)sqlite3_column_int64(q, 3);
    r->part = sqlite3_column_int(q, 4);
    r->kind = sb_strdup(col_text(q, 5));
    r->contact_id = sb_strdup(col_text(q, 6));
    r->text = sb_strdup(col_text(q, 7));
    r->state = sb_strdup(col_text(q, 8));
    r->attempts = sqlite3_column_int(q, 9);
    r->next_attempt_at = sqlite3_column_int64(q, 10);
    r->created_at = sqlite3_column_int64(q, 11);
    r->updated_at = sqlite3_column_int64(q, 12);
    r->platform_id = sb_strdup(col_text(q, 13));
    r->error = sb_strdup(col_text(q, 14));
}

static void outbox_rows_free(outbox_rows_t *v)
{
    for (size_t i = 0; i < v->n; i++) {
        sb_outbox_row_t *r = &v->rows[i];
        free((char *)r->channel);
        free((char *)r->conversation_id);
        free((char *)r->kind);
        free((char *)r->contact_id);
        free((char *)r->text);
        free((char *)r->state);
        free((char *)r->platform_id);
        free((char *)r->error);
    }
    free(v->rows);
}

/* Steps q to its end collecting rows; then hands them to cb (which may use
 * the store again). 0, SB_E*, or cb's value. */
static int outbox_collect(sqlite_store_t *s, sqlite3_stmt *q, const char *what, bool write,
                          sb_store_outbox_cb cb, void *arg)
{
    outbox_rows_t v = { NULL, 0, 0 };
    int rc, err = 0;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        outbox_rows_add(&v, q);
    if (rc != SQLITE_DONE) {
        err = report(s, s->db, rc, what);
        if (write)
            write_failed(s, err);
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    for (size_t i = 0; i < v.n && !err && cb; i++)
        err = cb(arg, &v.rows[i]);
    outbox_rows_free(&v);
    return err;
}

static int sqlite_outbox_load(void *impl, sb_store_outbox_cb cb, void *arg)
{
    sqlite_store_t *s = impl;
    int err;

    if ((err = ensure_db(s)) != 0)
        return err;
    return outbox_collect(s, s->stmt[S_OUTBOX_LOAD], "reading the outbox", false, cb, arg);
}

static int sqlite_outbox_max_id(void *impl, int64_t *id)
{
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    int rc, err = 0;

    *id = 0;
    if ((err = ensure_db(s)) != 0)
        return err;
    q = s->stmt[S_OUTBOX_MAX];
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(q, 0);
    else
        err = report(s, s->db, rc, "reading the outbox");
    sqlite3_reset(q);
    return err;
}

/* The rank a row moves to for a delivery report; -1 for an unknown state. */
static int outbox_rank(const char *state)
{
    if (strcmp(state, "sent") == 0)
        return 1;
    if (strcmp(state, "delivered") == 0 || strcmp(state, "failed") == 0)
        return 2;    /* failed: only from pending or sent */
    if (strcmp(state, "read") == 0)
        return 3;
    return -1;
}

static int sqlite_outbox_mark(void *impl, const char *channel, const char *platform_id,
                              const char *contact_id, sb_ms_t upto, const char *state,
                              const char *error, sb_ms_t now, sb_store_outbox_cb cb, void *arg)
{
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    int rank = outbox_rank(state), err;

    if (rank < 0)
        return SB_EINVAL;
    if ((err = write_enter(s)) != 0)
        return err;
    q = s->stmt[platform_id ? S_OUTBOX_MARK_ID : S_OUTBOX_MARK_CONTACT];
    bind_text(q, 1, state);
    bind_text(q, 2, error);
    sqlite3_bind_int64(q, 3, now);
    bind_text(q, 4, channel);
    bind_text(q, 5, platform_id ? platform_id : contact_id);
    sqlite3_bind_int(q, 6, rank);
    if (!platform_id)
        sqlite3_bind_int64(q, 7, upto);
    return outbox_collect(s, q, "recording a delivery report", true, cb, arg);
}

/* One row of statement `which` for (channel, key): the conversation id from
 * column 0 and, when seq is not NULL, a seq from column 1. 0, SB_ENOTFOUND
 * or SB_E*. */
static int lookup_conv(sqlite_store_t *s, int which, const char *channel, const char *key,
                       char conv_id[40], uint64_t *seq, const char *what)
{
    sqlite3_stmt *q;
    int rc, err;

    if ((err = ensure_db(s)) != 0)
        return err;
    q = s->stmt[which];
    bind_text(q, 1, channel);
    bind_text(q, 2, key);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        snprintf(conv_id, 40, "%s", col_text(q, 0) ? col_text(q, 0) : "");
        if (seq)
            *seq = (uint64_t)sqlite3_column_int64(q, 1);
        err = 0;
    } else if (rc == SQLITE_DONE) {
        err = SB_ENOTFOUND;
    } else {
        err = report(s, s->db, rc, what);
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return err;
}

static int sqlite_inbound_get(void *impl, const char *channel, const char *external_id,
                              char conv_id[40], uint64_t *seq)
{
    return lookup_conv(impl, S_INBOUND_GET, channel, external_id, conv_id, seq,
                       "reading inbound ids");
}

static int sqlite_inbound_put(void *impl, const char *channel, const char *external_id,
                              const char *conv_id, uint64_t seq, sb_ms_t ts)
{
    sqlite_store_t *s = impl;
    sqlite3_stmt *q;
    int err;

    if ((err = write_enter(s)) != 0)
        return err;
    q = s->stmt[S_INBOUND_PUT];
    bind_text(q, 1, channel);
    bind_text(q, 2, external_id);
    bind_text(q, 3, conv_id);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)seq);
    sqlite3_bind_int64(q, 5, ts);
    return run_write(s, q, "recording an inbound id");
}

static int sqlite_find_open_conv(void *impl, const char *channel, const char *contact,
                                 char conv_id[40])
{
    return lookup_conv(impl, S_FIND_OPEN, channel, contact, conv_id, NULL,
                       "looking up a contact's conversation");
}

static void sqlite_set_config(void *impl, const sb_config_t *cfg)
{
    ((sqlite_store_t *)impl)->cfg = cfg;
}

struct sqlite3 *sb_store_sqlite_db(sb_store_t *st)
{
    if (!st || st->m != &sb_store_sqlite)
        return NULL;
    return ((sqlite_store_t *)st->impl)->db;
}

const sb_store_methods_t sb_store_sqlite = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .save_conv = sqlite_save_conv,
    .append_message = sqlite_append_message,
    .append_note = sqlite_append_note,
    .append_event = sqlite_append_event,
    .load_messages = sqlite_load_messages,
    .load_conv = sqlite_load_conv,
    .load_open = sqlite_load_open,
    .set_config = sqlite_set_config,
    .purge_closed = sqlite_purge_closed,
    .outbox_put = sqlite_outbox_put,
    .outbox_update = sqlite_outbox_update,
    .outbox_load = sqlite_outbox_load,
    .outbox_max_id = sqlite_outbox_max_id,
    .outbox_mark = sqlite_outbox_mark,
    .inbound_get = sqlite_inbound_get,
    .inbound_put = sqlite_inbound_put,
    .find_open_conv = sqlite_find_open_conv,
    .maintenance_due = sqlite_maintenance_due,
    .maintain = sqlite_maintain,
};
