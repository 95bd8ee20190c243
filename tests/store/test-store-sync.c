/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state store's sync-engine queries (libqresync/sync/store_sync.c)
 * against spec/interimap.md §9, §10, §11, §12.2: mapping counts and UID
 * samples, the interrupted-sync detection and pending pairs with rows
 * beyond UIDNEXT on either side, the clean-state join with edge values,
 * mapping removal by either side, the APPEND journal (absent, present,
 * created lazily inside the open transaction, invisible to the schema
 * and to the reference's foreign keys), mailbox deletion and the rename
 * of descendants. Each test works in its own file under a mkdtemp()
 * folder; the database is read back with a raw sqlite3 connection once
 * the store is closed.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/store_p.h"
#include "tap.h"
#include "util/alloc.h"

static char tmpdir[64];
static char path[128]; /* the current test's database */

/* A fresh path inside tmpdir, in `path`. */
static const char *db_path(const char *name)
{
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    unlink(path);
    return path;
}

/* Append one column value: NULL, x'hex' for a BLOB, else its text. */
static size_t put_value(sqlite3_stmt *stmt, int i, char *out, size_t outlen)
{
    int t = sqlite3_column_type(stmt, i);
    if (t == SQLITE_NULL)
        return (size_t)snprintf(out, outlen, "NULL");
    if (t != SQLITE_BLOB)
        return (size_t)snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(stmt, i));
    const unsigned char *b = sqlite3_column_blob(stmt, i);
    size_t n = (size_t)snprintf(out, outlen, "x'");
    for (int j = 0; j < sqlite3_column_bytes(stmt, i); j++)
        n += (size_t)snprintf(out + n, outlen - n, "%02x", b[j]);
    return n + (size_t)snprintf(out + n, outlen - n, "'");
}

/* Rows of a query as "col|col|...\n" text, through a raw connection. */
static void raw_query(const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        snprintf(out, outlen, "ERROR %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(stmt); i++) {
            if (i)
                n += (size_t)snprintf(out + n, outlen - n, "|");
            n += put_value(stmt, i, out + n, outlen - n);
        }
        n += (size_t)snprintf(out + n, outlen - n, "\n");
    }
    if (rc != SQLITE_DONE)
        snprintf(out + n, outlen - n, "ERROR %s", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* Run statements on a raw read-write connection with foreign keys ON, as
 * the reference runs; "" on success, else SQLite's message. */
static void raw_exec(const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    out[0] = '\0';
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        snprintf(out, outlen, "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
}

static qr_store *open_fresh(const char *name)
{
    qr_store *st = NULL;
    CHECK_INT_EQ(qr_store_open(&st, db_path(name), 0, NULL), 0);
    if (!st)
        return NULL;
    qr_store_schema_action act = QR_STORE_SCHEMA_CURRENT;
    CHECK_INT_EQ(qr_store_schema(st, '/', '/', &act), 0);
    CHECK_INT_EQ(act, QR_STORE_SCHEMA_CREATED);
    return st;
}

/* A mailbox with both cursor rows (local and remote UIDNEXT as given). */
static int64_t add_mailbox(qr_store *st, const void *name, size_t len, uint32_t lnext,
                           uint32_t rnext)
{
    int64_t idx = -1;
    qr_store_cursor l = {.uidvalidity = 1, .uidnext = lnext, .highestmodseq = 1};
    qr_store_cursor r = {.uidvalidity = 2, .uidnext = rnext, .highestmodseq = 2};
    CHECK_INT_EQ(qr_store_mailbox_add(st, name, len, 0, &idx), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_LOCAL, idx, &l), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_REMOTE, idx, &r), 0);
    return idx;
}

/* Append printf output to the 512-byte buffer s. */
#define APPENDF(s, ...) snprintf((s) + strlen(s), 512 - strlen(s), __VA_ARGS__)

static void append_hex(char *s, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        APPENDF(s, "%02x", b[i]);
}

static int log_mapping(void *payload, int64_t idx, uint32_t luid, uint32_t ruid)
{
    APPENDF((char *)payload, "%lld:%u:%u ", (long long)idx, luid, ruid);
    return 0;
}

static int log_mailbox(void *payload, int64_t idx, const void *name, size_t len, int subscribed)
{
    char *s = payload;
    APPENDF(s, "%lld:", (long long)idx);
    append_hex(s, name, len);
    APPENDF(s, ":%d ", subscribed);
    return 0;
}

static int stop_mailbox(void *payload, int64_t idx, const void *name, size_t len, int subscribed)
{
    (void)name, (void)len, (void)subscribed;
    *(int64_t *)payload = idx;
    return 7;
}

static void test_count_and_samples(void)
{
    qr_store *st = open_fresh("samples.db");
    if (!st)
        return;
    int64_t a = add_mailbox(st, "INBOX", 5, 0, 0);
    int64_t b = add_mailbox(st, "b", 1, 0, 0);
    uint64_t count = 99;
    uint32_t out[8];
    size_t n = 99;
    CHECK_INT_EQ(qr_store_mapping_count(st, a, &count), 0);
    CHECK_UINT_EQ(count, 0);
    CHECK_INT_EQ(qr_store_mapping_uids_desc(st, QR_STORE_LOCAL, a, 8, out, &n), 0);
    CHECK_UINT_EQ(n, 0);

    static const uint32_t pairs[][2] = {
        {1, 10}, {2, 11}, {3, 12}, {5, 4294967295u}, {4294967295u, 7}};
    for (size_t i = 0; i < 5; i++)
        CHECK_INT_EQ(qr_store_mapping_add(st, a, pairs[i][0], pairs[i][1]), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, b, 6, 6), 0);
    CHECK_INT_EQ(qr_store_mapping_count(st, a, &count), 0);
    CHECK_UINT_EQ(count, 5);
    CHECK_INT_EQ(qr_store_mapping_count(st, b, &count), 0);
    CHECK_UINT_EQ(count, 1);
    CHECK_INT_EQ(qr_store_mapping_count(st, 99, &count), 0);
    CHECK_UINT_EQ(count, 0);

    CHECK_INT_EQ(qr_store_mapping_uids_desc(st, QR_STORE_LOCAL, a, 8, out, &n), 0);
    CHECK_UINT_EQ(n, 5);
    static const uint32_t ldesc[] = {4294967295u, 5, 3, 2, 1};
    CHECK_MEM_EQ(out, n * sizeof(out[0]), ldesc, sizeof(ldesc));
    CHECK_INT_EQ(qr_store_mapping_uids_desc(st, QR_STORE_REMOTE, a, 1024, out, &n), 0);
    static const uint32_t rdesc[] = {4294967295u, 12, 11, 10, 7};
    CHECK_MEM_EQ(out, n * sizeof(out[0]), rdesc, sizeof(rdesc));

    /* at most max; the rest of out untouched */
    out[2] = 12345;
    CHECK_INT_EQ(qr_store_mapping_uids_desc(st, QR_STORE_LOCAL, a, 2, out, &n), 0);
    CHECK_UINT_EQ(n, 2);
    CHECK_UINT_EQ(out[0], 4294967295u);
    CHECK_UINT_EQ(out[1], 5);
    CHECK_UINT_EQ(out[2], 12345);
    CHECK_INT_EQ(qr_store_mapping_uids_desc(st, QR_STORE_REMOTE, a, 0, NULL, &n), 0);
    CHECK_UINT_EQ(n, 0);
    CHECK_INT_EQ(qr_store_mapping_uids_desc(st, QR_STORE_REMOTE, b, 8, out, &n), 0);
    CHECK_UINT_EQ(n, 1);
    CHECK_UINT_EQ(out[0], 6);
    qr_store_close(st);
}

static void test_mapping_remove(void)
{
    qr_store *st = open_fresh("remove.db");
    if (!st)
        return;
    int64_t a = add_mailbox(st, "INBOX", 5, 0, 0);
    int64_t b = add_mailbox(st, "b", 1, 0, 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, a, 1, 4294967295u), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, a, 2, 3), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, a, 4294967295u, 4), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, b, 2, 2), 0);
    CHECK_INT_EQ(qr_store_last_error(st)->code, 0);

    CHECK_INT_EQ(qr_store_mapping_remove(st, QR_STORE_LOCAL, a, 2), 0);
    CHECK_INT_EQ(qr_store_mapping_remove(st, QR_STORE_LOCAL, a, 2), 1);
    CHECK_INT_EQ(qr_store_mapping_remove(st, QR_STORE_LOCAL, a, 3), 1); /* 3 is an rUID */
    CHECK_INT_EQ(qr_store_mapping_remove(st, QR_STORE_REMOTE, a, 4294967295u), 0);
    CHECK_INT_EQ(qr_store_mapping_remove(st, QR_STORE_REMOTE, a, 4294967295u), 1);
    CHECK_INT_EQ(qr_store_mapping_remove(st, QR_STORE_LOCAL, 99, 4294967295u), 1);
    CHECK_INT_EQ(qr_store_last_error(st)->code, 0); /* "none" is not an error */
    char s[512] = "";
    CHECK_INT_EQ(qr_store_mapping_foreach(st, -1, log_mapping, s), 0);
    CHECK_STR_EQ(s, "1:4294967295:4 2:2:2 ");
    CHECK_INT_EQ(qr_store_mapping_remove(st, QR_STORE_REMOTE, a, 4), 0);
    CHECK_INT_EQ(qr_store_commit(st), 0);
    qr_store_close(st);
    raw_query("SELECT * FROM mapping", s, sizeof(s));
    CHECK_STR_EQ(s, "2|2|2\n");
}

/* §10: rows beyond UIDNEXT on either side; a mailbox with mapping rows
 * but no cursor rows and one with no mapping are left out. */
static void test_interrupted(void)
{
    qr_store *st = open_fresh("interrupted.db");
    if (!st)
        return;
    char s[512] = "";
    CHECK_INT_EQ(qr_store_interrupted_foreach(st, log_mailbox, s), 0);
    CHECK_STR_EQ(s, "");

    int64_t clean = add_mailbox(st, "INBOX", 5, 5, 8);
    int64_t lside = add_mailbox(st, "a\0b", 3, 3, 100);
    int64_t rside = add_mailbox(st, "c", 1, 100, 4294967295u);
    int64_t nocur = 0;
    CHECK_INT_EQ(qr_store_mailbox_add(st, "d", 1, 1, &nocur), 0);
    int64_t empty = add_mailbox(st, "e", 1, 0, 0);
    int64_t zero = add_mailbox(st, "f", 1, 0, 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, clean, 1, 1), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, clean, 4, 7), 0); /* 4 < 5, 7 < 8 */
    CHECK_INT_EQ(qr_store_mapping_add(st, lside, 1, 1), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, lside, 7, 3), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, lside, 3, 2), 0); /* lUID = UIDNEXT */
    CHECK_INT_EQ(qr_store_mapping_add(st, lside, 5, 9), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, rside, 2, 5), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, rside, 1, 4294967295u), 0); /* rUID = UIDNEXT */
    CHECK_INT_EQ(qr_store_mapping_add(st, nocur, 9, 9), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, zero, 1, 1), 0); /* UIDNEXT 0: all pending */

    CHECK_INT_EQ(qr_store_interrupted_foreach(st, log_mailbox, s), 0);
    CHECK_STR_EQ(s, "2:610062:-1 3:63:-1 6:66:-1 ");
    int64_t first = 0;
    CHECK_INT_EQ(qr_store_interrupted_foreach(st, stop_mailbox, &first), 7);
    CHECK_INT_EQ(first, lside);

    static const struct {
        int64_t idx;
        const char *want;
    } pending[] = {
        {1, ""},
        {2, "2:3:2 2:5:9 2:7:3 "},
        {3, "3:1:4294967295 "},
        {4, ""},
        {5, ""},
        {6, "6:1:1 "},
        {99, ""},
    };
    CHECK_INT_EQ(empty, 5);
    for (size_t i = 0; i < sizeof(pending) / sizeof(pending[0]); i++) {
        s[0] = '\0';
        CHECK_INT_EQ(qr_store_pending_foreach(st, pending[i].idx, log_mapping, s), 0);
        CHECK_STR_EQ(s, pending[i].want);
    }

    /* once UIDNEXT moves past them, nothing is pending */
    CHECK_INT_EQ(qr_store_cursor_update(st, QR_STORE_LOCAL, lside, 8, 1), 0);
    CHECK_INT_EQ(qr_store_cursor_update(st, QR_STORE_LOCAL, zero, 2, 1), 0);
    CHECK_INT_EQ(qr_store_cursor_update(st, QR_STORE_REMOTE, zero, 2, 1), 0);
    s[0] = '\0';
    CHECK_INT_EQ(qr_store_interrupted_foreach(st, log_mailbox, s), 0);
    CHECK_STR_EQ(s, "3:63:-1 ");
    s[0] = '\0';
    CHECK_INT_EQ(qr_store_pending_foreach(st, lside, log_mapping, s), 0);
    CHECK_STR_EQ(s, "");
    qr_store_close(st);
}

static int log_state(void *payload, int64_t idx, const void *name, size_t len,
                     const qr_store_cursor *l, const qr_store_cursor *r)
{
    char *s = payload;
    APPENDF(s, "%lld:", (long long)idx);
    append_hex(s, name, len);
    APPENDF(s, ":%u/%u/%llu:%u/%u/%llu\n", l->uidvalidity, l->uidnext,
            (unsigned long long)l->highestmodseq, r->uidvalidity, r->uidnext,
            (unsigned long long)r->highestmodseq);
    return 0;
}

static int stop_state(void *payload, int64_t idx, const void *name, size_t len,
                      const qr_store_cursor *l, const qr_store_cursor *r)
{
    (void)name, (void)len, (void)l, (void)r;
    ++*(int *)payload;
    return idx == 3 ? QR_PAUSE : 0;
}

static void test_state(void)
{
    qr_store *st = open_fresh("state.db");
    if (!st)
        return;
    char s[512] = "";
    CHECK_INT_EQ(qr_store_state_foreach(st, log_state, s), 0);
    CHECK_STR_EQ(s, "");
    int64_t idx = 0;
    qr_store_cursor max = {4294967295u, 4294967295u, UINT64_MAX};
    qr_store_cursor half = {1, 0, (uint64_t)1 << 63};
    qr_store_cursor c5 = {5, 6, 7}, c8 = {8, 9, 10};
    CHECK_INT_EQ(qr_store_mailbox_add(st, "a\0b", 3, 1, &idx), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_LOCAL, idx, &max), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_REMOTE, idx, &half), 0);
    CHECK_INT_EQ(qr_store_mailbox_add(st, "local-only", 10, 0, &idx), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_LOCAL, idx, &c5), 0);
    CHECK_INT_EQ(qr_store_mailbox_add(st, "INBOX", 5, 0, &idx), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_LOCAL, idx, &c5), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_REMOTE, idx, &c8), 0);
    CHECK_INT_EQ(qr_store_mailbox_add(st, "none", 4, 0, NULL), 0);
    CHECK_INT_EQ(qr_store_mailbox_add(st, "last", 4, 0, &idx), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_REMOTE, idx, &c8), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_LOCAL, idx, &half), 0);
    CHECK_INT_EQ(qr_store_state_foreach(st, log_state, s), 0);
    CHECK_STR_EQ(s, "1:610062:4294967295/4294967295/18446744073709551615:"
                    "1/0/9223372036854775808\n"
                    "3:494e424f58:5/6/7:8/9/10\n"
                    "5:6c617374:1/0/9223372036854775808:8/9/10\n");
    int calls = 0;
    CHECK_INT_EQ(qr_store_state_foreach(st, stop_state, &calls), QR_PAUSE);
    CHECK_INT_EQ(calls, 2);
    qr_store_close(st);
}

static int log_journal(void *payload, qr_store_side target, uint32_t src_uid, uint64_t size,
                       const char *date)
{
    APPENDF((char *)payload, "%d:%u:%llu:%s\n", (int)target, src_uid, (unsigned long long)size,
            date);
    return 0;
}

static const char journal_sql[] =
    "table|qr_append_journal|CREATE TABLE qr_append_journal (idx INTEGER NOT NULL, target "
    "INTEGER NOT NULL, srcUID INTEGER NOT NULL, size INTEGER NOT NULL, internaldate TEXT NOT "
    "NULL, PRIMARY KEY (idx, target, srcUID))\n"
    "index|sqlite_autoindex_qr_append_journal_1|NULL\n";

/* Every reader and deleter treats a missing table as empty and never
 * creates it; an add rolled back takes the table with it. */
static void test_journal_absent(void)
{
    qr_store *st = open_fresh("journal-absent.db");
    if (!st)
        return;
    char s[512] = "";
    CHECK_INT_EQ(qr_store_journal_has(st, 1), 0);
    CHECK_INT_EQ(qr_store_journal_foreach(st, 1, log_journal, s), 0);
    CHECK_STR_EQ(s, "");
    CHECK_INT_EQ(qr_store_journal_clear(st, 1), 0);
    CHECK_INT_EQ(qr_store_journal_remove(st, 1, QR_STORE_REMOTE, 3), 0);
    CHECK_INT_EQ(qr_store_mailbox_delete(st, 1), 0);
    CHECK_INT_EQ(qr_store_commit(st), 0);

    CHECK_INT_EQ(qr_store_journal_add(st, 1, QR_STORE_LOCAL, 3, 10, "01-Jan-2020 00:00:00 +0000"),
                 0);
    CHECK_INT_EQ(qr_store_journal_has(st, 1), 1);
    CHECK_INT_EQ(qr_store_rollback(st), 0);
    CHECK_INT_EQ(qr_store_journal_has(st, 1), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, 1, QR_STORE_LOCAL, 3, 10, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_store_commit(st), 0);
    qr_store_close(st);
    raw_query("SELECT count(*) FROM sqlite_master WHERE name LIKE '%journal%'", s, sizeof(s));
    CHECK_STR_EQ(s, "0\n");
}

static void test_journal_present(void)
{
    qr_store *st = open_fresh("journal.db");
    if (!st)
        return;
    static const char d1[] = "17-Jul-1996 02:44:25 -0700", d2[] = " 1-Feb-2024 23:59:59 +0100";
    CHECK_INT_EQ(qr_store_journal_add(st, 1, QR_STORE_REMOTE, 4294967295u, UINT64_MAX, d1), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, 1, QR_STORE_LOCAL, 3, 4294967296u, d2), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, 1, QR_STORE_REMOTE, 2, 0, d2), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, 2, QR_STORE_LOCAL, 1, 5, d1), 0);
    char s[512] = "";
    CHECK_INT_EQ(qr_store_journal_foreach(st, 1, log_journal, s), 0);
    CHECK_STR_EQ(s, "0:3:4294967296: 1-Feb-2024 23:59:59 +0100\n"
                    "1:2:0: 1-Feb-2024 23:59:59 +0100\n"
                    "1:4294967295:18446744073709551615:17-Jul-1996 02:44:25 -0700\n");
    CHECK_INT_EQ(qr_store_journal_has(st, 1), 1);
    CHECK_INT_EQ(qr_store_journal_has(st, 2), 1);
    CHECK_INT_EQ(qr_store_journal_has(st, 3), 0);
    s[0] = '\0';
    CHECK_INT_EQ(qr_store_journal_foreach(st, 3, log_journal, s), 0);
    CHECK_STR_EQ(s, "");

    /* the same key again replaces the row */
    CHECK_INT_EQ(qr_store_journal_add(st, 1, QR_STORE_LOCAL, 3, 999, d1), 0);
    CHECK_INT_EQ(qr_store_journal_remove(st, 1, QR_STORE_LOCAL, 2), 0); /* wrong target */
    CHECK_INT_EQ(qr_store_journal_remove(st, 1, QR_STORE_REMOTE, 2), 0);
    CHECK_INT_EQ(qr_store_journal_remove(st, 1, QR_STORE_REMOTE, 2), 0); /* absent: no-op */
    s[0] = '\0';
    CHECK_INT_EQ(qr_store_journal_foreach(st, 1, log_journal, s), 0);
    CHECK_STR_EQ(s, "0:3:999:17-Jul-1996 02:44:25 -0700\n"
                    "1:4294967295:18446744073709551615:17-Jul-1996 02:44:25 -0700\n");
    CHECK_INT_EQ(qr_store_commit(st), 0);
    qr_store_close(st);

    raw_query("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'qr_append_journal' "
              "ORDER BY rowid",
              s, sizeof(s));
    CHECK_STR_EQ(s, journal_sql);
    raw_query("SELECT idx, target, srcUID, size, typeof(internaldate) FROM qr_append_journal "
              "ORDER BY idx, target, srcUID",
              s, sizeof(s));
    CHECK_STR_EQ(s, "1|0|3|999|text\n1|1|4294967295|-1|text\n2|0|1|5|text\n");

    /* reopened: the schema step is not disturbed; clear leaves other idx */
    qr_store_schema_action act = QR_STORE_SCHEMA_CREATED;
    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    if (!st)
        return;
    CHECK_INT_EQ(qr_store_schema(st, '/', '/', &act), 0);
    CHECK_INT_EQ(act, QR_STORE_SCHEMA_CURRENT);
    CHECK_INT_EQ(qr_store_journal_clear(st, 1), 0);
    CHECK_INT_EQ(qr_store_journal_has(st, 1), 0);
    CHECK_INT_EQ(qr_store_journal_has(st, 2), 1);
    CHECK_INT_EQ(qr_store_commit(st), 0);
    qr_store_close(st);
    raw_query("SELECT idx, target, srcUID FROM qr_append_journal", s, sizeof(s));
    CHECK_STR_EQ(s, "2|0|1\n");
}

/* The journal has no foreign key: foreign_key_check stays empty and the
 * reference's --delete SQL runs with foreign_keys ON, leaving orphans. */
static void test_journal_foreign_keys(void)
{
    qr_store *st = open_fresh("journal-fk.db");
    if (!st)
        return;
    int64_t a = add_mailbox(st, "INBOX", 5, 10, 10);
    int64_t b = add_mailbox(st, "b", 1, 10, 10);
    CHECK_INT_EQ(qr_store_mapping_add(st, a, 1, 1), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, b, 1, 1), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, a, QR_STORE_REMOTE, 2, 100, "d"), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, b, QR_STORE_LOCAL, 2, 100, "d"), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, 77, QR_STORE_LOCAL, 2, 100, "d"), 0); /* no mailbox */
    CHECK_INT_EQ(qr_store_commit(st), 0);
    qr_store_close(st);

    char s[512];
    raw_query("PRAGMA foreign_key_check", s, sizeof(s));
    CHECK_STR_EQ(s, "");
    /* foreign keys are enforced on this connection ... */
    raw_exec("DELETE FROM mailboxes WHERE idx = 2", s, sizeof(s));
    CHECK_STR_EQ(s, "FOREIGN KEY constraint failed");
    /* ... and the reference's deletion works with journal rows present */
    raw_exec("DELETE FROM mapping WHERE idx = 1; DELETE FROM local WHERE idx = 1; "
             "DELETE FROM remote WHERE idx = 1; DELETE FROM mailboxes WHERE idx = 1",
             s, sizeof(s));
    CHECK_STR_EQ(s, "");
    raw_query("SELECT idx FROM mailboxes", s, sizeof(s));
    CHECK_STR_EQ(s, "2\n");
    raw_query("SELECT idx FROM qr_append_journal ORDER BY idx", s, sizeof(s));
    CHECK_STR_EQ(s, "1\n2\n77\n");
    raw_query("PRAGMA foreign_key_check", s, sizeof(s));
    CHECK_STR_EQ(s, "");
}

static void test_mailbox_delete(void)
{
    qr_store *st = open_fresh("delete.db");
    if (!st)
        return;
    int64_t a = add_mailbox(st, "INBOX", 5, 10, 10);
    int64_t b = add_mailbox(st, "b", 1, 10, 10);
    CHECK_INT_EQ(qr_store_mapping_add(st, a, 1, 2), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, b, 1, 2), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, b, 4294967295u, 4294967295u), 0);
    /* without a journal table: not created */
    CHECK_INT_EQ(qr_store_mailbox_delete(st, a), 0);
    CHECK_INT_EQ(qr_store_journal_has(st, b), 0);
    CHECK_INT_EQ(qr_store_commit(st), 0);
    char s[512];
    qr_store_close(st);
    raw_query("SELECT (SELECT group_concat(idx) FROM mailboxes), (SELECT group_concat(idx) FROM "
              "local), (SELECT group_concat(idx) FROM remote), (SELECT group_concat(idx||':'||lUID)"
              " FROM mapping), (SELECT count(*) FROM sqlite_master WHERE name LIKE 'qr_%')",
              s, sizeof(s));
    CHECK_STR_EQ(s, "2|2|2|2:1,2:4294967295|0\n");

    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    if (!st)
        return;
    CHECK_INT_EQ(qr_store_schema(st, 0, 0, NULL), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, b, QR_STORE_REMOTE, 9, 1, "d"), 0);
    CHECK_INT_EQ(qr_store_journal_add(st, 5, QR_STORE_REMOTE, 9, 1, "d"), 0);
    CHECK_INT_EQ(qr_store_mailbox_delete(st, b), 0);
    CHECK_INT_EQ(qr_store_mailbox_delete(st, 42), 0); /* nothing there */
    CHECK_INT_EQ(qr_store_journal_has(st, b), 0);
    CHECK_INT_EQ(qr_store_journal_has(st, 5), 1);
    CHECK_INT_EQ(qr_store_commit(st), 0);
    qr_store_close(st);
    raw_query("SELECT (SELECT count(*) FROM mailboxes), (SELECT count(*) FROM local), "
              "(SELECT count(*) FROM remote), (SELECT count(*) FROM mapping), "
              "(SELECT group_concat(idx) FROM qr_append_journal)",
              s, sizeof(s));
    CHECK_STR_EQ(s, "0|0|0|0|5\n");
    /* AUTOINCREMENT: a deleted index is never reused */
    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    if (!st)
        return;
    CHECK_INT_EQ(qr_store_schema(st, 0, 0, NULL), 0);
    int64_t c = 0;
    CHECK_INT_EQ(qr_store_mailbox_add(st, "b", 1, 0, &c), 0);
    CHECK_INT_EQ(c, 3);
    qr_store_close(st);
}

static void test_rename(void)
{
    qr_store *st = open_fresh("rename.db");
    if (!st)
        return;
    static const struct {
        const char *name;
        size_t len;
    } rows[] = {
        {"SOURCE", 6},        {"SOURCE\0x", 8},         {"SOURCEx", 7},
        {"SOURCE\0x\0y", 10}, {"OTHER\0SOURCE\0z", 14}, {"SOURC", 5},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK_INT_EQ(qr_store_mailbox_add(st, rows[i].name, rows[i].len, 1, NULL), 0);
    int64_t idx = 0;
    CHECK_INT_EQ(qr_store_mailbox_get(st, "SOURCE", 6, &idx, NULL), 0);
    uint64_t changed = 99;
    CHECK_INT_EQ(qr_store_mailbox_rename(st, idx, "SOURCE", 6, "DEST", 4, &changed), 0);
    CHECK_UINT_EQ(changed, 3);
    /* no row for SOURCE (idx < 0): descendants only, to a longer name */
    CHECK_INT_EQ(qr_store_mailbox_rename(st, -1, "DEST", 4, "NEW\0sub", 7, &changed), 0);
    CHECK_UINT_EQ(changed, 2);
    CHECK_INT_EQ(qr_store_mailbox_rename(st, -1, "nothing", 7, "x", 1, &changed), 0);
    CHECK_UINT_EQ(changed, 0);
    CHECK_INT_EQ(qr_store_mailbox_rename(st, -1, "SOURC", 5, "Z", 1, NULL), 0);
    /* a name taken: UNIQUE constraint, nothing changed */
    CHECK_INT_EQ(qr_store_mailbox_rename(st, idx, "DEST", 4, "SOURC", 5, &changed), QR_ESTORE);
    CHECK_INT_EQ(qr_store_last_error(st)->lib_code, SQLITE_CONSTRAINT);
    CHECK_UINT_EQ(changed, 0);
    CHECK_INT_EQ(qr_store_mailbox_rename(st, idx, "", 0, "x", 1, &changed), QR_EINVAL);
    CHECK_INT_EQ(qr_store_mailbox_rename(st, idx, "x", 1, NULL, 0, &changed), QR_EINVAL);
    CHECK_INT_EQ(qr_store_commit(st), 0);

    /* our one allocation fails cleanly */
    qr_alloc_fail_at(1, 0);
    CHECK_INT_EQ(qr_store_mailbox_rename(st, -1, "SOURCEx", 7, "y", 1, &changed), QR_ENOMEM);
    CHECK(qr_alloc_failed());
    qr_alloc_fail_at(0, 0);
    qr_store_close(st);
    char s[512];
    raw_query("SELECT idx, typeof(mailbox), mailbox FROM mailboxes ORDER BY idx", s, sizeof(s));
    CHECK_STR_EQ(s, "1|blob|x'44455354'\n"
                    "2|blob|x'4e4557007375620078'\n"
                    "3|blob|x'534f5552434578'\n"
                    "4|blob|x'4e45570073756200780079'\n"
                    "5|blob|x'4f5448455200534f55524345007a'\n"
                    "6|blob|x'534f555243'\n");
}

/* Before the schema step every accessor is refused. */
static void test_before_schema(void)
{
    qr_store *st = NULL;
    CHECK_INT_EQ(qr_store_open(&st, db_path("early.db"), 0, NULL), 0);
    if (!st)
        return;
    uint64_t count = 0;
    size_t n = 0;
    char s[512] = "";
    CHECK_INT_EQ(qr_store_mapping_count(st, 1, &count), QR_EINVAL);
    CHECK_INT_EQ(qr_store_mapping_uids_desc(st, QR_STORE_LOCAL, 1, 0, NULL, &n), QR_EINVAL);
    CHECK_INT_EQ(qr_store_interrupted_foreach(st, log_mailbox, s), QR_EINVAL);
    CHECK_INT_EQ(qr_store_pending_foreach(st, 1, log_mapping, s), QR_EINVAL);
    CHECK_INT_EQ(qr_store_mapping_remove(st, QR_STORE_LOCAL, 1, 1), QR_EINVAL);
    CHECK_INT_EQ(qr_store_state_foreach(st, log_state, s), QR_EINVAL);
    CHECK_INT_EQ(qr_store_journal_add(st, 1, QR_STORE_LOCAL, 1, 1, "d"), QR_EINVAL);
    CHECK_INT_EQ(qr_store_journal_foreach(st, 1, log_journal, s), QR_EINVAL);
    CHECK_INT_EQ(qr_store_journal_clear(st, 1), QR_EINVAL);
    CHECK_INT_EQ(qr_store_journal_remove(st, 1, QR_STORE_LOCAL, 1), QR_EINVAL);
    CHECK_INT_EQ(qr_store_journal_has(st, 1), QR_EINVAL);
    CHECK_INT_EQ(qr_store_mailbox_delete(st, 1), QR_EINVAL);
    CHECK_INT_EQ(qr_store_mailbox_rename(st, 1, "a", 1, "b", 1, NULL), QR_EINVAL);
    CHECK_STR_EQ(s, "");
    qr_store_close(st);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/qr-test-store-sync.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    TAP_RUN(test_count_and_samples);
    TAP_RUN(test_mapping_remove);
    TAP_RUN(test_interrupted);
    TAP_RUN(test_state);
    TAP_RUN(test_journal_absent);
    TAP_RUN(test_journal_present);
    TAP_RUN(test_journal_foreign_keys);
    TAP_RUN(test_mailbox_delete);
    TAP_RUN(test_rename);
    TAP_RUN(test_before_schema);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", tmpdir);
    return tap_done();
}
