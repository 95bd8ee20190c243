/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state store: opening, locking, closing, transactions.
 *
 * A qr_store is one SQLite connection on interimap's database, opened the
 * way InterIMAP 0.5.7 opens it (spec/interimap.md §5.1) so that the Perl
 * tool and ours exclude each other:
 *
 *   - unless in watch mode, the file is created empty with
 *     open(O_WRONLY|O_CREAT|O_EXCL, 0600) first; SQLite itself is never
 *     allowed to create it (SQLITE_OPEN_READWRITE only), so in watch mode a
 *     missing file is an error and an existing file's mode is never touched;
 *   - busy timeout 250 ms, then BEGIN IMMEDIATE; PRAGMA locking_mode =
 *     EXCLUSIVE; COMMIT. From then on the connection never releases its
 *     lock: another process cannot even read the file. If another process
 *     holds it, BEGIN IMMEDIATE fails after the timeout and we return
 *     QR_ELOCKED "database is locked: PATH";
 *   - PRAGMA foreign_keys = OFF until the schema step (schema.c) turns it
 *     ON.
 *
 * Transactions (§5.6): the reference runs with auto-commit off and
 * immediate transactions, i.e. any statement first opens a transaction if
 * none is open, and nothing is durable before an explicit commit.
 * qr_store_prepare() reproduces that with qr_store_begin(); commit and
 * rollback end the open transaction; close rolls back what is pending.
 *
 * Errors are recorded in the store's slot (qr_store_fail()): QR_ESTORE
 * with SQLite's code as lib_code and a one-line message naming the path.
 * qr_store_open() reports into the caller's slot since no store exists
 * when it fails.
 */
#include "sync/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

int qr_store_fail(qr_store *st, int rc, const char *what)
{
    int code = QR_ESTORE;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        code = qr_err_set(&st->err, QR_ELOCKED, "database is locked: %s", st->path);
    } else {
        const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
        qr_err_set(&st->err, QR_ESTORE, "%s: %s: %s", st->path, what, msg);
    }
    qr_errslot_set_lib_code(&st->err, rc);
    return code;
}

int qr_store_exec(qr_store *st, const char *sql)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : qr_store_fail(st, rc, sql);
}

int qr_store_begin(qr_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        return 0;
    return qr_store_exec(st, "BEGIN IMMEDIATE TRANSACTION");
}

int qr_store_prepare(qr_store *st, const char *sql, sqlite3_stmt **stmt)
{
    *stmt = NULL;
    if (!st->schema_ok)
        return qr_err_set(&st->err, QR_EINVAL, "%s: schema step not done", st->path);
    int r = qr_store_begin(st);
    if (r < 0)
        return r;
    for (size_t i = 0; i < st->ncache; i++)
        if (!st->cache[i].busy && strcmp(st->cache[i].sql, sql) == 0) {
            st->cache[i].busy = 1;
            *stmt = st->cache[i].stmt;
            return 0;
        }
    int rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*stmt);
        *stmt = NULL;
        return qr_store_fail(st, rc, sql);
    }
    if (st->ncache < QR_STORE_STMT_CACHE) {
        char *copy = qr_strdup(sql);

        if (copy != NULL) {
            st->cache[st->ncache].sql = copy;
            st->cache[st->ncache].stmt = *stmt;
            st->cache[st->ncache].busy = 1;
            st->ncache++;
        }
    }
    return 0;
}

void qr_store_release(qr_store *st, sqlite3_stmt *stmt)
{
    if (stmt == NULL)
        return;
    for (size_t i = 0; i < st->ncache; i++)
        if (st->cache[i].stmt == stmt) {
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
            st->cache[i].busy = 0;
            return;
        }
    sqlite3_finalize(stmt);
}

int qr_store_step_row(qr_store *st, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return 0;
    qr_store_release(st, stmt);
    return rc == SQLITE_DONE ? 1 : qr_store_fail(st, rc, what);
}

void qr_store_read_cursor(sqlite3_stmt *stmt, int col, qr_store_cursor *cur)
{
    cur->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, col);
    cur->uidnext = (uint32_t)sqlite3_column_int64(stmt, col + 1);
    cur->highestmodseq = qr_store_modseq_decode(sqlite3_column_int64(stmt, col + 2));
}

int qr_store_step_done(qr_store *st, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    int r = rc == SQLITE_DONE ? 0 : qr_store_fail(st, rc, what);
    qr_store_release(st, stmt);
    return r;
}

/* Step 1 of §5.1: the empty file, unless it exists or in watch mode. */
static int create_file(const char *path, unsigned flags, qr_errslot *err)
{
    if (flags & QR_STORE_WATCH)
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno == EEXIST)
        return 0;
    int e = errno;
    qr_err_set(err, QR_EIO, "Can't create %s", path);
    qr_errslot_set_errno(err, e);
    return QR_EIO;
}

/* Steps 2 and 3 of §5.1: open read-write and take the exclusive lock. */
static int connect_and_lock(qr_store *st, unsigned flags)
{
    int rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        if ((flags & QR_STORE_WATCH) && access(st->path, F_OK) != 0 && errno == ENOENT) {
            qr_err_set(&st->err, QR_ESTORE,
                       "%s: unable to open database file (not created in watch mode)", st->path);
            qr_errslot_set_lib_code(&st->err, rc);
            return QR_ESTORE;
        }
        return qr_store_fail(st, rc, "open");
    }
    sqlite3_busy_timeout(st->db, 250);
    int r = qr_store_exec(st, "BEGIN IMMEDIATE TRANSACTION");
    if (r == 0)
        r = qr_store_exec(st, "PRAGMA locking_mode = EXCLUSIVE");
    if (r == 0)
        r = qr_store_exec(st, "COMMIT");
    if (r == 0)
        r = qr_store_exec(st, "PRAGMA foreign_keys = OFF");
    return r;
}

int qr_store_open(qr_store **out, const char *path, unsigned flags, qr_errslot *err)
{
    qr_errslot dummy;
    if (!err)
        err = &dummy;
    *out = NULL;
    if (!path || !*path)
        return qr_err_set(err, QR_EINVAL, "empty database path");
    int r = create_file(path, flags, err);
    if (r < 0)
        return r;
    qr_store *st = qr_calloc(1, sizeof(*st));
    if (!st)
        return qr_err_set(err, QR_ENOMEM, "out of memory opening %s", path);
    qr_errslot_clear(&st->err);
    st->path = qr_strdup(path);
    if (!st->path) {
        qr_free(st);
        return qr_err_set(err, QR_ENOMEM, "out of memory opening %s", path);
    }
    r = connect_and_lock(st, flags);
    if (r < 0) {
        qr_err_set(err, r, "%s", st->err.message);
        qr_errslot_set_lib_code(err, st->err.pub.lib_code);
        qr_store_close(st);
        return r;
    }
    *out = st;
    return 0;
}

void qr_store_close(qr_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->ncache; i++) {
        sqlite3_finalize(st->cache[i].stmt);
        qr_free(st->cache[i].sql);
    }
    st->ncache = 0;
    if (st->db) {
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(st->db);
    }
    qr_free(st->path);
    qr_free(st);
}

const qr_error *qr_store_last_error(const qr_store *st)
{
    return qr_errslot_get(&st->err);
}

const char *qr_store_path(const qr_store *st)
{
    return st->path;
}

int qr_store_commit(qr_store *st)
{
    if (sqlite3_get_autocommit(st->db))
        return 0;
    return qr_store_exec(st, "COMMIT");
}

int qr_store_rollback(qr_store *st)
{
    if (sqlite3_get_autocommit(st->db))
        return 0;
    return qr_store_exec(st, "ROLLBACK");
}
