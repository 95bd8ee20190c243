/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by store.c, schema.c, store_rows.c and store_sync.c only: the store object and
 * the statement helpers that turn SQLite failures into the store's errors.
 */
#ifndef QR_SYNC_STORE_INT_H
#define QR_SYNC_STORE_INT_H

#include <sqlite3.h>

#include "sync/store_p.h"
#include "util/error.h"

/* Statements kept prepared between uses (the sync runs the same few
 * queries thousands of times; parsing them each time cost a seventh of
 * the client's CPU in an initial sync). */
#define QR_STORE_STMT_CACHE 48

struct qr_store_cached {
    char *sql;          /* the text, owned (the key) */
    sqlite3_stmt *stmt; /* prepared, reset when not busy */
    int busy;           /* handed out by qr_store_prepare(), not yet released */
};

struct qr_store {
    struct qr_store_cached cache[QR_STORE_STMT_CACHE];
    size_t ncache;  /* entries used in cache */
    sqlite3 *db;    /* the connection, owned; NULL once closed */
    char *path;     /* database path as given, owned (qr_malloc) */
    int schema_ok;  /* qr_store_schema() has succeeded: accessors allowed */
    qr_errslot err; /* detail of the last failure */
};

/* Record SQLite failure rc while doing `what`: QR_ELOCKED for BUSY/LOCKED
 * ("database is locked: PATH"), else QR_ESTORE ("PATH: WHAT: ERRMSG"),
 * lib_code = rc. Returns the code. */
int qr_store_fail(qr_store *st, int rc, const char *what);
/* Run SQL without result rows, outside the implicit-transaction rule. */
int qr_store_exec(qr_store *st, const char *sql);
/* Open the implicit immediate transaction if none is open (§5.6). */
int qr_store_begin(qr_store *st);
/* Begin (when needed) and prepare sql into *stmt (from the cache when it
 * was prepared before and is not in use). Give it back with
 * qr_store_release(), never sqlite3_finalize(). */
int qr_store_prepare(qr_store *st, const char *sql, sqlite3_stmt **stmt);
/* Reset a statement from qr_store_prepare() for its next use (or finalize
 * it when it is not cached). Accepts NULL. */
void qr_store_release(qr_store *st, sqlite3_stmt *stmt);
/* Step a statement that yields rows: 0 a row, 1 the end, or an error;
 * released on the end and on error. */
int qr_store_step_row(qr_store *st, sqlite3_stmt *stmt, const char *what);
/* UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ at columns col..col+2 into cur. */
void qr_store_read_cursor(sqlite3_stmt *stmt, int col, qr_store_cursor *cur);
/* Step a statement expected to finish (no row), then finalize it. */
int qr_store_step_done(qr_store *st, sqlite3_stmt *stmt, const char *what);

#endif /* QR_SYNC_STORE_INT_H */
