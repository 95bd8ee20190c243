/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SQLite state store (libqresync/sync/store_p.h) against
 * spec/interimap.md §5: the exact schema text and automatic indices in
 * sqlite_master, user_version, BLOB names with NUL delimiters, the 2^63
 * MODSEQ encoding, transactions, the exclusive lock (a second store in this
 * process, one in a forked child, and a plain SELECT from a raw
 * connection), the upgrade from version 0 and watch mode. Each test works
 * in its own file under a mkdtemp() folder; the database is read back
 * with a raw sqlite3 connection once the store is closed.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync/store_p.h"
#include "tap.h"
#include "util/alloc.h"

static char tmpdir[64];

/* A fresh path inside tmpdir (static buffer: one at a time). */
static const char *db_path(const char *name)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    unlink(path);
    return path;
}

/* Read rows of a query as "col|col|...\n" text (NULL as "NULL", BLOB hex
 * as x'..'), through a raw connection. */
static void raw_query(const char *path, const char *sql, char *out, size_t outlen)
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
            int t = sqlite3_column_type(stmt, i);
            if (i)
                n += (size_t)snprintf(out + n, outlen - n, "|");
            if (t == SQLITE_NULL) {
                n += (size_t)snprintf(out + n, outlen - n, "NULL");
            } else if (t == SQLITE_BLOB) {
                const unsigned char *b = sqlite3_column_blob(stmt, i);
                n += (size_t)snprintf(out + n, outlen - n, "x'");
                for (int j = 0; j < sqlite3_column_bytes(stmt, i); j++)
                    n += (size_t)snprintf(out + n, outlen - n, "%02x", b[j]);
                n += (size_t)snprintf(out + n, outlen - n, "'");
            } else {
                n += (size_t)snprintf(out + n, outlen - n, "%s",
                                      (const char *)sqlite3_column_text(stmt, i));
            }
        }
        n += (size_t)snprintf(out + n, outlen - n, "\n");
    }
    if (rc != SQLITE_DONE)
        snprintf(out + n, outlen - n, "ERROR %s", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static const char schema_rows[] =
    "table|mailboxes|CREATE TABLE mailboxes (idx        INTEGER NOT NULL PRIMARY KEY "
    "AUTOINCREMENT, mailbox    BLOB COLLATE BINARY NOT NULL CHECK (mailbox != '') UNIQUE, "
    "subscribed BOOLEAN NOT NULL)\n"
    "index|sqlite_autoindex_mailboxes_1|NULL\n"
    "table|sqlite_sequence|CREATE TABLE sqlite_sequence(name,seq)\n"
    "table|local|CREATE TABLE local (idx           INTEGER         NOT NULL PRIMARY KEY "
    "REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > "
    "0), UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL)\n"
    "table|remote|CREATE TABLE remote (idx           INTEGER         NOT NULL PRIMARY KEY "
    "REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > "
    "0), UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL)\n"
    "table|mapping|CREATE TABLE mapping (idx  INTEGER      NOT NULL REFERENCES mailboxes(idx), "
    "lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), rUID UNSIGNED INT NOT NULL CHECK (rUID > 0), "
    "PRIMARY KEY (idx,lUID), UNIQUE      (idx,rUID))\n"
    "index|sqlite_autoindex_mapping_1|NULL\n"
    "index|sqlite_autoindex_mapping_2|NULL\n";

static qr_store *open_fresh(const char *path)
{
    qr_store *st = NULL;
    qr_errslot err;
    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_store_open(&st, path, 0, &err), 0);
    if (!st)
        return NULL;
    qr_store_schema_action act = QR_STORE_SCHEMA_CURRENT;
    CHECK_INT_EQ(qr_store_schema(st, '/', '/', &act), 0);
    CHECK_INT_EQ(act, QR_STORE_SCHEMA_CREATED);
    return st;
}

static void test_fresh_schema(void)
{
    const char *path = db_path("fresh.db");
    qr_store *st = open_fresh(path);
    if (!st)
        return;
    struct stat sb;
    CHECK_INT_EQ(stat(path, &sb), 0);
    CHECK_INT_EQ(sb.st_mode & 0777, 0600);
    qr_store_close(st);
    char buf[4096];
    raw_query(path, "SELECT type, name, sql FROM sqlite_master ORDER BY rowid", buf, sizeof(buf));
    CHECK_STR_EQ(buf, schema_rows);
    raw_query(path, "PRAGMA user_version", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "1\n");
    raw_query(path, "PRAGMA journal_mode", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "delete\n");

    /* reopening finds the current schema and changes nothing */
    qr_store_schema_action act = QR_STORE_SCHEMA_CREATED;
    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    CHECK_INT_EQ(qr_store_schema(st, 0, 0, &act), 0);
    CHECK_INT_EQ(act, QR_STORE_SCHEMA_CURRENT);
    qr_store_close(st);
    raw_query(path, "SELECT type, name, sql FROM sqlite_master ORDER BY rowid", buf, sizeof(buf));
    CHECK_STR_EQ(buf, schema_rows);
}

static void test_names_blob(void)
{
    const char *path = db_path("names.db");
    qr_store *st = open_fresh(path);
    if (!st)
        return;
    int64_t a = 0, b = 0, got = 0;
    int sub = -1;
    CHECK_INT_EQ(qr_store_mailbox_add(st, "INBOX", 5, 1, &a), 0);
    CHECK_INT_EQ(qr_store_mailbox_add(st, "a\0b", 3, 0, &b), 0);
    CHECK_INT_EQ(a, 1);
    CHECK_INT_EQ(b, 2);
    CHECK_INT_EQ(qr_store_mailbox_add(st, "a\0b", 3, 0, NULL), QR_ESTORE);
    CHECK_INT_EQ(qr_store_last_error(st)->lib_code, SQLITE_CONSTRAINT);
    char msg[256];
    snprintf(msg, sizeof(msg),
             "%s: INSERT INTO mailboxes: UNIQUE constraint failed: "
             "mailboxes.mailbox",
             path);
    CHECK_STR_EQ(qr_store_last_error(st)->message, msg);
    CHECK_INT_EQ(qr_store_mailbox_get(st, "a\0b", 3, &got, &sub), 0);
    CHECK_INT_EQ(got, b);
    CHECK_INT_EQ(sub, 0);
    CHECK_INT_EQ(qr_store_mailbox_get(st, "a/b", 3, &got, &sub), 1);
    CHECK_INT_EQ(qr_store_mailbox_get(st, "a", 1, &got, &sub), 1);
    CHECK_INT_EQ(qr_store_mailbox_set_subscribed(st, b, 1), 0);
    CHECK_INT_EQ(qr_store_mailbox_set_subscribed(st, 99, 1), QR_EINVAL);
    CHECK_INT_EQ(qr_store_commit(st), 0);
    /* uncommitted at close: rolled back */
    CHECK_INT_EQ(qr_store_mailbox_add(st, "lost", 4, 0, NULL), 0);
    qr_store_close(st);
    char buf[1024];
    raw_query(path, "SELECT idx, typeof(mailbox), mailbox, subscribed FROM mailboxes", buf,
              sizeof(buf));
    CHECK_STR_EQ(buf, "1|blob|x'494e424f58'|1\n2|blob|x'610062'|1\n");
}

static void test_modseq_encoding(void)
{
    const uint64_t two63 = (uint64_t)1 << 63;
    CHECK_INT_EQ(qr_store_modseq_encode(0), 0);
    CHECK_INT_EQ(qr_store_modseq_encode(two63 - 1), INT64_MAX);
    CHECK_INT_EQ(qr_store_modseq_encode(two63), INT64_MIN);
    CHECK_INT_EQ(qr_store_modseq_encode(UINT64_MAX), -1);
    CHECK_UINT_EQ(qr_store_modseq_decode(-1), UINT64_MAX);
    CHECK_UINT_EQ(qr_store_modseq_decode(INT64_MIN), two63);

    const char *path = db_path("modseq.db");
    qr_store *st = open_fresh(path);
    if (!st)
        return;
    const uint64_t values[] = {two63 - 1, two63, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        char name[2] = {(char)('a' + i), 0};
        int64_t idx = 0;
        qr_store_cursor cur = {
            .uidvalidity = 4000000000u, .uidnext = 7, .highestmodseq = values[i]};
        CHECK_INT_EQ(qr_store_mailbox_add(st, name, 1, 0, &idx), 0);
        CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_LOCAL, idx, &cur), 0);
        cur.highestmodseq = 0;
        CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_REMOTE, idx, &cur), 0);
        CHECK_INT_EQ(qr_store_cursor_update(st, QR_STORE_REMOTE, idx, 9, values[i]), 0);
    }
    CHECK_INT_EQ(qr_store_cursor_update(st, QR_STORE_REMOTE, 42, 9, 1), QR_EINVAL);
    CHECK_INT_EQ(qr_store_commit(st), 0);
    for (int i = 0; i < 3; i++) {
        qr_store_cursor l = {0}, r = {0};
        CHECK_INT_EQ(qr_store_cursor_get(st, QR_STORE_LOCAL, i + 1, &l), 0);
        CHECK_INT_EQ(qr_store_cursor_get(st, QR_STORE_REMOTE, i + 1, &r), 0);
        CHECK_UINT_EQ(l.highestmodseq, values[i]);
        CHECK_UINT_EQ(r.highestmodseq, values[i]);
        CHECK_UINT_EQ(l.uidvalidity, 4000000000u);
        CHECK_UINT_EQ(l.uidnext, 7);
        CHECK_UINT_EQ(r.uidnext, 9);
    }
    qr_store_cursor none;
    CHECK_INT_EQ(qr_store_cursor_get(st, QR_STORE_LOCAL, 42, &none), 1);
    qr_store_close(st);
    char buf[1024];
    raw_query(path,
              "SELECT idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, typeof(HIGHESTMODSEQ) "
              "FROM local",
              buf, sizeof(buf));
    CHECK_STR_EQ(buf, "1|4000000000|7|9223372036854775807|integer\n"
                      "2|4000000000|7|-9223372036854775808|integer\n"
                      "3|4000000000|7|-1|integer\n");
    raw_query(path, "SELECT idx, UIDNEXT, HIGHESTMODSEQ FROM remote", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "1|9|9223372036854775807\n2|9|-9223372036854775808\n3|9|-1\n");
}

static int count_mapping(void *payload, int64_t idx, uint32_t luid, uint32_t ruid)
{
    char *s = payload;
    size_t n = strlen(s);
    snprintf(s + n, 256 - n, "%lld:%u:%u ", (long long)idx, luid, ruid);
    return 0;
}

static void test_mapping(void)
{
    const char *path = db_path("mapping.db");
    qr_store *st = open_fresh(path);
    if (!st)
        return;
    int64_t idx = 0;
    qr_store_cursor cur = {.uidvalidity = 1, .uidnext = 0, .highestmodseq = 0};
    CHECK_INT_EQ(qr_store_mailbox_add(st, "INBOX", 5, 0, &idx), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_LOCAL, idx, &cur), 0);
    CHECK_INT_EQ(qr_store_cursor_add(st, QR_STORE_REMOTE, idx, &cur), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, idx, 1, 10), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, idx, 2, 20), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, idx, 3, 4294967295u), 0);
    CHECK_INT_EQ(qr_store_mapping_add(st, idx, 4, 20), QR_ESTORE); /* UNIQUE (idx,rUID) */
    CHECK_INT_EQ(qr_store_mapping_add(st, 77, 4, 40), QR_ESTORE);  /* foreign key */
    CHECK_INT_EQ(qr_store_last_error(st)->lib_code, SQLITE_CONSTRAINT);
    uint32_t other = 0;
    CHECK_INT_EQ(qr_store_mapping_lookup(st, QR_STORE_LOCAL, idx, 2, &other), 0);
    CHECK_UINT_EQ(other, 20);
    CHECK_INT_EQ(qr_store_mapping_lookup(st, QR_STORE_REMOTE, idx, 4294967295u, &other), 0);
    CHECK_UINT_EQ(other, 3);
    CHECK_INT_EQ(qr_store_mapping_lookup(st, QR_STORE_REMOTE, idx, 2, &other), 1);
    CHECK_INT_EQ(qr_store_mapping_delete(st, idx, 2), 0);
    CHECK_INT_EQ(qr_store_mapping_delete(st, idx, 2), QR_EINVAL);
    char s[256] = "";
    CHECK_INT_EQ(qr_store_mapping_foreach(st, -1, count_mapping, s), 0);
    CHECK_STR_EQ(s, "1:1:10 1:3:4294967295 ");
    CHECK_INT_EQ(qr_store_commit(st), 0);
    CHECK_INT_EQ(qr_store_mapping_delete(st, idx, 1), 0);
    CHECK_INT_EQ(qr_store_rollback(st), 0);
    s[0] = '\0';
    CHECK_INT_EQ(qr_store_mapping_foreach(st, idx, count_mapping, s), 0);
    CHECK_STR_EQ(s, "1:1:10 1:3:4294967295 ");
    qr_store_close(st);
}

static void test_locking(void)
{
    const char *p = db_path("lock.db");
    char path[128];
    snprintf(path, sizeof(path), "%s", p);
    qr_store *st = open_fresh(path);
    if (!st)
        return;
    char want[160];
    snprintf(want, sizeof(want), "database is locked: %s", path);

    /* a second store in this process */
    qr_store *st2 = (qr_store *)1;
    qr_errslot err;
    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_store_open(&st2, path, 0, &err), QR_ELOCKED);
    CHECK(st2 == NULL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
    CHECK_INT_EQ(qr_errslot_get(&err)->lib_code, SQLITE_BUSY);

    /* one in another process */
    pid_t pid = fork();
    if (pid == 0) {
        qr_store *c = NULL;
        qr_errslot e;
        qr_errslot_clear(&e);
        int r = qr_store_open(&c, path, 0, &e);
        _exit(r == QR_ELOCKED && strcmp(qr_errslot_get(&e)->message, want) == 0 ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* even a plain SELECT from a raw connection */
    char buf[256];
    raw_query(path, "SELECT count(*) FROM mailboxes", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "ERROR database is locked");
    qr_store_close(st);
    raw_query(path, "SELECT count(*) FROM mailboxes", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "0\n");
}

/* A pre-0.5 database: mailboxes.mailbox TEXT with the real delimiter. */
static void make_version0(const char *path, int with_tables)
{
    sqlite3 *db = NULL;
    CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    if (with_tables)
        CHECK_INT_EQ(
            sqlite3_exec(
                db,
                "CREATE TABLE mailboxes (idx INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
                "mailbox TEXT NOT NULL CHECK (mailbox != '') UNIQUE, subscribed BOOLEAN NOT "
                "NULL);"
                "CREATE TABLE local (idx           INTEGER         NOT NULL PRIMARY KEY "
                "REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK "
                "(UIDVALIDITY > 0), UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ "
                "UNSIGNED BIGINT NOT NULL);"
                "CREATE TABLE remote (idx           INTEGER         NOT NULL PRIMARY KEY "
                "REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK "
                "(UIDVALIDITY > 0), UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ "
                "UNSIGNED BIGINT NOT NULL);"
                "CREATE TABLE mapping (idx  INTEGER      NOT NULL REFERENCES mailboxes(idx), "
                "lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), rUID UNSIGNED INT NOT NULL CHECK "
                "(rUID > 0), PRIMARY KEY (idx,lUID), UNIQUE      (idx,rUID));"
                "INSERT INTO mailboxes VALUES (1, 'INBOX', 1), (2, 'a/b/c', 0), (3, 'x', 1);"
                "INSERT INTO local VALUES (2, 5, 3, 7);"
                "INSERT INTO remote VALUES (2, 6, 4, -1);"
                "INSERT INTO mapping VALUES (2, 1, 2), (2, 2, 3);",
                NULL, NULL, NULL),
            SQLITE_OK);
    sqlite3_close(db);
}

static void test_upgrade_v0(void)
{
    const char *p = db_path("v0.db");
    char path[128], buf[4096];
    snprintf(path, sizeof(path), "%s", p);
    make_version0(path, 1);

    /* differing delimiters: refused, nothing changed */
    qr_store *st = NULL;
    qr_store_schema_action act = QR_STORE_SCHEMA_CURRENT;
    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    if (!st)
        return;
    CHECK_INT_EQ(qr_store_schema(st, '/', '"', &act), QR_ESTORE);
    CHECK_STR_EQ(qr_store_last_error(st)->message,
                 "Local and remote hierachy delimiters differ (local \"/\", remote \"\\\"\"), "
                 "refusing to update table `mailboxes`.");
    qr_store_close(st);
    raw_query(path, "PRAGMA user_version", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "0\n");
    raw_query(path, "SELECT name FROM sqlite_master WHERE name LIKE '%tmp%'", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "");

    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    CHECK_INT_EQ(qr_store_schema(st, '/', '/', &act), 0);
    CHECK_INT_EQ(act, QR_STORE_SCHEMA_UPGRADED);
    int64_t idx = 0;
    CHECK_INT_EQ(qr_store_mailbox_get(st, "a\0b\0c", 5, &idx, NULL), 0);
    CHECK_INT_EQ(idx, 2);
    qr_store_cursor cur = {0};
    CHECK_INT_EQ(qr_store_cursor_get(st, QR_STORE_REMOTE, 2, &cur), 0);
    CHECK_UINT_EQ(cur.highestmodseq, UINT64_MAX);
    qr_store_close(st);
    raw_query(path, "PRAGMA user_version", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "1\n");
    raw_query(path, "SELECT idx, typeof(mailbox), mailbox, subscribed FROM mailboxes", buf,
              sizeof(buf));
    CHECK_STR_EQ(buf, "1|blob|x'494e424f58'|1\n2|blob|x'6100620063'|0\n3|blob|x'78'|1\n");
    raw_query(path,
              "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'mailboxes' "
              "ORDER BY rowid",
              buf, sizeof(buf));
    CHECK_STR_EQ(buf, "table|mailboxes|CREATE TABLE \"mailboxes\" (idx        INTEGER NOT NULL "
                      "PRIMARY KEY AUTOINCREMENT, mailbox    BLOB COLLATE BINARY NOT NULL CHECK "
                      "(mailbox != '') UNIQUE, subscribed BOOLEAN NOT NULL)\n"
                      "index|sqlite_autoindex_mailboxes_1|NULL\n");
    raw_query(path, "SELECT * FROM mapping", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "2|1|2\n2|2|3\n");

    /* flat namespaces: rows copied as they are */
    p = db_path("v0flat.db");
    snprintf(path, sizeof(path), "%s", p);
    make_version0(path, 1);
    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    CHECK_INT_EQ(qr_store_schema(st, 0, 0, &act), 0);
    CHECK_INT_EQ(act, QR_STORE_SCHEMA_UPGRADED);
    qr_store_close(st);
    raw_query(path, "SELECT idx, typeof(mailbox), mailbox FROM mailboxes", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "1|text|INBOX\n2|text|a/b/c\n3|text|x\n");
}

static void test_watch_mode(void)
{
    const char *p = db_path("watch.db");
    char path[128], want[200];
    snprintf(path, sizeof(path), "%s", p);
    qr_store *st = (qr_store *)1;
    qr_errslot err;
    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_store_open(&st, path, QR_STORE_WATCH, &err), QR_ESTORE);
    CHECK(st == NULL);
    snprintf(want, sizeof(want), "%s: unable to open database file (not created in watch mode)",
             path);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
    CHECK_INT_EQ(qr_errslot_get(&err)->lib_code, SQLITE_CANTOPEN);
    CHECK(access(path, F_OK) != 0);

    /* an existing file opens in watch mode; its mode is left alone */
    qr_store_close(open_fresh(path));
    CHECK_INT_EQ(chmod(path, 0640), 0);
    CHECK_INT_EQ(qr_store_open(&st, path, QR_STORE_WATCH, &err), 0);
    CHECK_INT_EQ(qr_store_schema(st, '/', '/', NULL), 0);
    qr_store_close(st);
    struct stat sb;
    CHECK_INT_EQ(stat(path, &sb), 0);
    CHECK_INT_EQ(sb.st_mode & 0777, 0640);
}

static void test_errors(void)
{
    char path[128], want[200];
    snprintf(path, sizeof(path), "%s/missing/x.db", tmpdir);
    qr_store *st = NULL;
    qr_errslot err;
    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_store_open(&st, path, 0, &err), QR_EIO);
    snprintf(want, sizeof(want), "Can't create %s: No such file or directory", path);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);

    /* accessors before the schema step are refused */
    const char *p = db_path("early.db");
    snprintf(path, sizeof(path), "%s", p);
    CHECK_INT_EQ(qr_store_open(&st, path, 0, &err), 0);
    if (!st)
        return;
    CHECK_INT_EQ(qr_store_mailbox_add(st, "x", 1, 0, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_store_mailbox_add(st, "", 0, 0, NULL), QR_EINVAL);
    qr_store_close(st);

    /* a file that is not a database */
    p = db_path("junk.db");
    snprintf(path, sizeof(path), "%s", p);
    FILE *f = fopen(path, "w");
    fputs("this is not an SQLite database, not at all, no.\n", f);
    fclose(f);
    CHECK_INT_EQ(qr_store_open(&st, path, 0, &err), QR_ESTORE);
    CHECK_INT_EQ(qr_errslot_get(&err)->lib_code, SQLITE_NOTADB);
    snprintf(want, sizeof(want), "%s: BEGIN IMMEDIATE TRANSACTION: file is not a database", path);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
}

/* Our own allocations (the store, its path) fail cleanly; SQLite's own
 * allocator is not ours to fail. */
static void test_alloc_failures(void)
{
    const char *p = db_path("alloc.db");
    char path[128];
    snprintf(path, sizeof(path), "%s", p);
    qr_alloc_fail_at(0, 0);
    unsigned long base = qr_alloc_count();
    qr_store *st = NULL;
    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    qr_store_close(st);
    unsigned long n = qr_alloc_count() - base;
    CHECK_UINT_EQ(n, 2);
    for (unsigned long i = 1; i <= n; i++) {
        qr_errslot err;
        qr_errslot_clear(&err);
        qr_alloc_fail_at(i, 0);
        st = (qr_store *)1;
        CHECK_INT_EQ(qr_store_open(&st, path, 0, &err), QR_ENOMEM);
        CHECK(st == NULL);
        CHECK(qr_alloc_failed());
    }
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(qr_store_open(&st, path, 0, NULL), 0);
    qr_store_close(st);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/qr-test-store.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    TAP_RUN(test_fresh_schema);
    TAP_RUN(test_names_blob);
    TAP_RUN(test_modseq_encoding);
    TAP_RUN(test_mapping);
    TAP_RUN(test_locking);
    TAP_RUN(test_upgrade_v0);
    TAP_RUN(test_watch_mode);
    TAP_RUN(test_errors);
    TAP_RUN(test_alloc_failures);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", tmpdir);
    return tap_done();
}
