/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SQLite state store of interimap (internal interface).
 *
 * The database is InterIMAP 0.5.7's, byte for byte (spec/interimap.md §5):
 * the Perl tool and ours can use the same file in turn and exclude each
 * other through SQLite's exclusive lock.
 *
 * Life cycle, in the order the reference follows:
 *   1. qr_store_open(): create the empty file unless QR_STORE_WATCH, open
 *      read-write, take the exclusive lock (QR_ELOCKED when another process
 *      holds it), foreign keys OFF. No network yet.
 *   2. qr_store_schema(): once both servers' delimiters are known, create
 *      the schema (fresh file) or upgrade a version-0 database (§5.3),
 *      then foreign keys ON. Every accessor below needs this step done.
 *   3. The accessors: each statement opens an immediate transaction when
 *      none is open (the reference's AutoCommit off); nothing is durable
 *      before qr_store_commit(). qr_store_close() rolls back what is
 *      pending.
 *
 * Mailbox names are internal names (§5.4): bytes, the delimiter replaced
 * by NUL, always bound as BLOBs. HIGHESTMODSEQ values are unsigned 64-bit,
 * stored two's-complement in the signed column (§5.5).
 *
 * Errors: QR_ESTORE (SQLite's code in the slot's lib_code, a one-line
 * message naming the database path), QR_ELOCKED, QR_EIO (creation),
 * QR_ENOMEM, QR_EINVAL.
 */
#ifndef QR_SYNC_STORE_P_H
#define QR_SYNC_STORE_P_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef struct qr_store qr_store;

/* Flags of qr_store_open(). */
enum {
    QR_STORE_WATCH = 1 << 0, /* watch/notify mode: never create the file */
};

/* What qr_store_schema() did (the caller logs it, §5.3). */
typedef enum qr_store_schema_action {
    QR_STORE_SCHEMA_CURRENT = 0,  /* user_version >= 1: nothing done */
    QR_STORE_SCHEMA_CREATED = 1,  /* "Creating new schema in database file PATH" */
    QR_STORE_SCHEMA_UPGRADED = 2, /* "Upgrading database version from 0" */
} qr_store_schema_action;

/* The two sides of a mailbox pair: tables `local` and `remote`. */
typedef enum qr_store_side { QR_STORE_LOCAL = 0, QR_STORE_REMOTE = 1 } qr_store_side;

/* One row of `local` or `remote`. */
typedef struct qr_store_cursor {
    uint32_t uidvalidity;   /* UIDVALIDITY, > 0, never changes for a row */
    uint32_t uidnext;       /* UIDNEXT; 0 = nothing synchronised yet */
    uint64_t highestmodseq; /* HIGHESTMODSEQ, decoded from the signed column */
} qr_store_cursor;

/*
 * Open (creating it unless QR_STORE_WATCH) and lock the database at path.
 * On failure *out is NULL and err (may be NULL) holds the detail.
 */
int qr_store_open(qr_store **out, const char *path, unsigned flags, qr_errslot *err);
/* Roll back anything uncommitted, close, free. Accepts NULL. */
void qr_store_close(qr_store *st);
/* The last error recorded on st. */
const qr_error *qr_store_last_error(const qr_store *st);
/* The path given to qr_store_open(); borrowed. */
const char *qr_store_path(const qr_store *st);

/*
 * Check, create or upgrade the schema (§5.3). ldelim and rdelim are the
 * servers' hierarchy delimiters, 0 for a flat namespace (NIL); they are
 * used only for an upgrade from version 0. Then PRAGMA foreign_keys = ON.
 * action (may be NULL) receives what was done.
 */
int qr_store_schema(qr_store *st, char ldelim, char rdelim, qr_store_schema_action *action);

/* Transactions (§5.6): commit or roll back the open one, if any. */
int qr_store_commit(qr_store *st);
int qr_store_rollback(qr_store *st);

/* §5.5: unsigned HIGHESTMODSEQ <-> the signed 64-bit column value. */
int64_t qr_store_modseq_encode(uint64_t modseq);
uint64_t qr_store_modseq_decode(int64_t stored);

/* --- mailboxes ----------------------------------------------------------- */

/* Look up a mailbox by internal name: 0 and *idx (and *subscribed, may be
 * NULL) when found, 1 when absent, or an error. */
int qr_store_mailbox_get(qr_store *st, const void *name, size_t len, int64_t *idx, int *subscribed);
/* Insert a mailbox row; *idx (may be NULL) receives its new index. */
int qr_store_mailbox_add(qr_store *st, const void *name, size_t len, int subscribed, int64_t *idx);
/* Set `subscribed`. QR_EINVAL when idx has no row. */
int qr_store_mailbox_set_subscribed(qr_store *st, int64_t idx, int subscribed);

/* Called for each mailbox row in idx order; non-zero return stops the walk
 * and is returned. name is borrowed for the call. */
typedef int (*qr_store_mailbox_fn)(void *payload, int64_t idx, const void *name, size_t len,
                                   int subscribed);
int qr_store_mailbox_foreach(qr_store *st, qr_store_mailbox_fn fn, void *payload);

/* --- local / remote ------------------------------------------------------ */

/* 0 and *cur when idx has a row on side, 1 when absent, or an error. */
int qr_store_cursor_get(qr_store *st, qr_store_side side, int64_t idx, qr_store_cursor *cur);
/* Insert the row of idx on side (first selection of the mailbox). */
int qr_store_cursor_add(qr_store *st, qr_store_side side, int64_t idx, const qr_store_cursor *cur);
/* Move UIDNEXT and HIGHESTMODSEQ (UIDVALIDITY never changes). */
int qr_store_cursor_update(qr_store *st, qr_store_side side, int64_t idx, uint32_t uidnext,
                           uint64_t highestmodseq);

/* Called for each row of side in idx order. */
typedef int (*qr_store_cursor_fn)(void *payload, int64_t idx, const qr_store_cursor *cur);
int qr_store_cursor_foreach(qr_store *st, qr_store_side side, qr_store_cursor_fn fn, void *payload);

/* --- mapping ------------------------------------------------------------- */

int qr_store_mapping_add(qr_store *st, int64_t idx, uint32_t luid, uint32_t ruid);
/* Delete the pair of local UID luid; QR_EINVAL when there is none. */
int qr_store_mapping_delete(qr_store *st, int64_t idx, uint32_t luid);
/* Find the other UID of a pair from one side's UID: 0 and *other, 1 when
 * absent, or an error. */
int qr_store_mapping_lookup(qr_store *st, qr_store_side side, int64_t idx, uint32_t uid,
                            uint32_t *other);
/* Called for each mapping row of idx (all rows when idx < 0) ordered by
 * idx, lUID. */
typedef int (*qr_store_mapping_fn)(void *payload, int64_t idx, uint32_t luid, uint32_t ruid);
int qr_store_mapping_foreach(qr_store *st, int64_t idx, qr_store_mapping_fn fn, void *payload);

/* --- two-way sync queries (store_sync.c) ---------------------------------- */

/* §12.2: SELECT COUNT(*) FROM mapping WHERE idx = ? */
int qr_store_mapping_count(qr_store *st, int64_t idx, uint64_t *count);
/* §12.2: "SELECT lUID FROM mapping WHERE idx = ? ORDER BY lUID DESC LIMIT ?" (rUID for REMOTE):
 * fills out[0..*n) in descending order, at most max. */
int qr_store_mapping_uids_desc(qr_store *st, qr_store_side side, int64_t idx, size_t max,
                               uint32_t *out, size_t *n);
/* §10 detection query: fn called per (idx, mailbox name) row, in idx order; subscribed is
 * -1 (the query does not read it). */
int qr_store_interrupted_foreach(qr_store *st, qr_store_mailbox_fn fn, void *payload);
/* §10 step 2: the pending pairs of idx, ordered by lUID. */
int qr_store_pending_foreach(qr_store *st, int64_t idx, qr_store_mapping_fn fn, void *payload);
/* Delete the pair of one side's UID: 0 when a row was deleted, 1 when there was none (no error
 * recorded in that case). */
int qr_store_mapping_remove(qr_store *st, qr_store_side side, int64_t idx, uint32_t uid);
/* §11 clean state: fn per row of the join (mailboxes m JOIN local l JOIN remote r), idx order.
 * name, local and remote are borrowed for the call. */
typedef int (*qr_store_state_fn)(void *payload, int64_t idx, const void *name, size_t len,
                                 const qr_store_cursor *local, const qr_store_cursor *remote);
int qr_store_state_foreach(qr_store *st, qr_store_state_fn fn, void *payload);

/* --- APPEND journal (ours; the Perl tool ignores the table) ---
 * Table created on demand, never by qr_store_schema():
 *   CREATE TABLE IF NOT EXISTS qr_append_journal (
 *     idx INTEGER NOT NULL, target INTEGER NOT NULL, srcUID INTEGER NOT NULL,
 *     size INTEGER NOT NULL, internaldate TEXT NOT NULL,
 *     PRIMARY KEY (idx, target, srcUID))
 * NO foreign key (the Perl tool's --delete must keep working with foreign_keys ON).
 * target is the destination side (0 local, 1 remote); srcUID is the UID on the other side. */

/* Record one row, creating the table inside the current implicit transaction when missing; a
 * row with the same (idx, target, srcUID) is replaced. */
int qr_store_journal_add(qr_store *st, int64_t idx, qr_store_side target, uint32_t src_uid,
                         uint64_t size, const char *internaldate);
/* Rows of idx (all targets), ordered by target, srcUID; a missing table means no rows
 * (return 0 without creating it). internaldate is borrowed for the call. */
typedef int (*qr_store_journal_fn)(void *payload, qr_store_side target, uint32_t src_uid,
                                   uint64_t size, const char *internaldate);
int qr_store_journal_foreach(qr_store *st, int64_t idx, qr_store_journal_fn fn, void *payload);
/* Delete the rows of idx (no-op when the table is missing). */
int qr_store_journal_clear(qr_store *st, int64_t idx);
/* Delete one row (no-op when absent). */
int qr_store_journal_remove(qr_store *st, int64_t idx, qr_store_side target, uint32_t src_uid);
/* 1 when the table exists and has rows for idx, 0 when not, or an error. */
int qr_store_journal_has(qr_store *st, int64_t idx);

/* --- --delete / --rename (§9) -------------------------------------------- */

/* §9.1: DELETE FROM mapping/local/remote/mailboxes WHERE idx = ? (that order), then the
 * journal rows of idx. 0 even when idx has no row. */
int qr_store_mailbox_delete(qr_store *st, int64_t idx);
/* §9.2 step 5: rename idx's row (if idx >= 0) to dest and the descendants of source
 * (SOURCE\0x -> DEST\0x); *changed (may be NULL) receives the number of rows changed. */
int qr_store_mailbox_rename(qr_store *st, int64_t idx, const void *source, size_t slen,
                            const void *dest, size_t dlen, uint64_t *changed);

#endif /* QR_SYNC_STORE_P_H */
