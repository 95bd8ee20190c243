/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The schema step of the state store (spec/interimap.md §5.2, §5.3).
 *
 * The table definitions are InterIMAP 0.5.7's, byte for byte: SQLite keeps
 * each CREATE TABLE text verbatim in sqlite_master, so a database we create
 * is indistinguishable from one the Perl tool created. `PRAGMA
 * user_version` is the schema version (1 now):
 *
 *   - >= 1: nothing to do (a newer version is not rejected);
 *   - 0 and no table at all (the empty file qr_store_open() created): one
 *     transaction creates the four tables and sets user_version = 1;
 *   - 0 with tables (a pre-0.5 database whose mailboxes.mailbox is TEXT with
 *     the real delimiter): one transaction rebuilds `mailboxes` with the
 *     BLOB definition, replacing the delimiter by NUL (CAST(REPLACE(...))
 *     with the delimiter bound as TEXT), or copying rows as they are when the
 *     namespaces are flat; checks foreign keys; sets user_version = 1. Like
 *     the reference it refuses when both servers have a delimiter and they
 *     differ. ALTER TABLE RENAME leaves `CREATE TABLE "mailboxes" (...)` in
 *     sqlite_master, as it does for the reference.
 *
 * Afterwards PRAGMA foreign_keys = ON is run in auto-commit mode (where it
 * takes effect) and the accessors are enabled.
 */
#include "sync/store_int.h"

#include <stdio.h>

#define SCHEMA_MAILBOXES_COLUMNS                                                                   \
    "(idx        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "                                     \
    "mailbox    BLOB COLLATE BINARY NOT NULL CHECK (mailbox != '') UNIQUE, "                       \
    "subscribed BOOLEAN NOT NULL)"

#define SCHEMA_SIDE_COLUMNS                                                                        \
    "(idx           INTEGER         NOT NULL PRIMARY KEY REFERENCES mailboxes(idx), "              \
    "UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), "                             \
    "UIDNEXT       UNSIGNED INT    NOT NULL, "                                                     \
    "HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL)"

/* The statements of §5.2, in order. */
static const char *const schema_sql[] = {
    "CREATE TABLE mailboxes " SCHEMA_MAILBOXES_COLUMNS,
    "CREATE TABLE local " SCHEMA_SIDE_COLUMNS,
    "CREATE TABLE remote " SCHEMA_SIDE_COLUMNS,
    "CREATE TABLE mapping (idx  INTEGER      NOT NULL REFERENCES mailboxes(idx), "
    "lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), "
    "rUID UNSIGNED INT NOT NULL CHECK (rUID > 0), "
    "PRIMARY KEY (idx,lUID), "
    "UNIQUE      (idx,rUID))",
};

/* Run a statement returning one integer row (or none: *value = -1). */
static int query_int(qr_store *st, const char *sql, long long *value)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return qr_store_fail(st, rc, sql);
    }
    rc = sqlite3_step(stmt);
    *value = -1;
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return qr_store_fail(st, rc, sql);
    return 0;
}

static int create_schema(qr_store *st)
{
    for (size_t i = 0; i < sizeof(schema_sql) / sizeof(schema_sql[0]); i++) {
        int r = qr_store_exec(st, schema_sql[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

/* print_delimiter() of the reference, into buf[5]. */
static const char *print_delimiter(char d, char *buf)
{
    if (d == '\\' || d == '"')
        snprintf(buf, 5, "\"\\%c\"", d);
    else
        snprintf(buf, 5, "\"%c\"", d);
    return buf;
}

/* The `mailboxes` rebuild of §5.3, inside the open transaction. */
static int upgrade_from_0(qr_store *st, char ldelim, char rdelim)
{
    if (ldelim && rdelim && ldelim != rdelim) {
        char lb[5], rb[5];
        return qr_err_set(&st->err, QR_ESTORE,
                          "Local and remote hierachy delimiters differ (local %s, remote %s), "
                          "refusing to update table `mailboxes`.",
                          print_delimiter(ldelim, lb), print_delimiter(rdelim, rb));
    }
    int r = qr_store_exec(st, "CREATE TABLE _tmp1_mailboxes " SCHEMA_MAILBOXES_COLUMNS);
    if (r < 0)
        return r;
    char d = ldelim ? ldelim : rdelim;
    if (d) {
        static const char sql[] = "INSERT INTO _tmp1_mailboxes SELECT idx, "
                                  "CAST(REPLACE(mailbox, ?, x'00') AS BLOB), subscribed "
                                  "FROM mailboxes";
        sqlite3_stmt *stmt = NULL;
        int rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(stmt);
            return qr_store_fail(st, rc, sql);
        }
        sqlite3_bind_text(stmt, 1, &d, 1, SQLITE_TRANSIENT);
        r = qr_store_step_done(st, stmt, "INSERT INTO _tmp1_mailboxes");
    } else {
        r = qr_store_exec(st, "INSERT INTO _tmp1_mailboxes SELECT * FROM mailboxes");
    }
    if (r == 0)
        r = qr_store_exec(st, "DROP TABLE mailboxes");
    if (r == 0)
        r = qr_store_exec(st, "ALTER TABLE _tmp1_mailboxes RENAME TO mailboxes");
    long long bad = -1;
    if (r == 0)
        r = query_int(st, "PRAGMA foreign_key_check", &bad);
    if (r == 0 && bad != -1)
        r = qr_err_set(&st->err, QR_ESTORE,
                       "database: ERROR: Broken referential integrity! Refusing to commit "
                       "changes.");
    return r;
}

/* Version 0: create or upgrade in one transaction (commit C1). */
static int migrate(qr_store *st, char ldelim, char rdelim, qr_store_schema_action *action)
{
    int r = qr_store_begin(st);
    if (r < 0)
        return r;
    long long any = -1;
    r = query_int(st, "SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1", &any);
    if (r == 0 && any == -1) {
        *action = QR_STORE_SCHEMA_CREATED;
        r = create_schema(st);
    } else if (r == 0) {
        *action = QR_STORE_SCHEMA_UPGRADED;
        r = upgrade_from_0(st, ldelim, rdelim);
    }
    if (r == 0)
        r = qr_store_exec(st, "PRAGMA user_version = 1");
    if (r == 0)
        r = qr_store_exec(st, "COMMIT");
    if (r < 0 && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int qr_store_schema(qr_store *st, char ldelim, char rdelim, qr_store_schema_action *action)
{
    qr_store_schema_action dummy;
    if (!action)
        action = &dummy;
    *action = QR_STORE_SCHEMA_CURRENT;
    if (!sqlite3_get_autocommit(st->db))
        return qr_err_set(&st->err, QR_EINVAL, "%s: schema step inside a transaction", st->path);
    long long version = 0;
    int r = query_int(st, "PRAGMA user_version", &version);
    if (r < 0)
        return r;
    if (version < 1) {
        r = migrate(st, ldelim, rdelim, action);
        if (r < 0)
            return r;
    }
    r = qr_store_exec(st, "PRAGMA foreign_keys = ON");
    if (r < 0)
        return r;
    st->schema_ok = 1;
    return 0;
}
