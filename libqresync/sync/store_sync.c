/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state store's queries for the two-way sync engine and the --delete
 * and --rename commands (spec/interimap.md §9, §10, §11, §12.2), plus our
 * APPEND journal.
 *
 * Like store_rows.c, every statement goes through qr_store_prepare(),
 * which opens the implicit immediate transaction (§5.6); nothing here
 * commits. Names are bound as BLOBs; the SQL is the reference's, with an
 * ORDER BY added where the caller is promised an order (§10's GROUP BY and
 * §11's join have none of their own; the rows are the same).
 *
 * The APPEND journal is ours: a table `qr_append_journal` that the Perl
 * tool never reads and qr_store_schema() never creates, so a database we
 * never appended with keeps the reference's sqlite_master byte for byte.
 * qr_store_journal_add() creates it with CREATE TABLE IF NOT EXISTS inside
 * the current implicit transaction (a rollback undoes the creation too);
 * the readers and deleters look it up in sqlite_master first and treat a
 * missing table as empty, without creating it. It has no foreign key, so
 * the reference's `--delete` (which deletes only mapping, local, remote
 * and mailboxes rows, with foreign_keys ON) keeps working when journal
 * rows exist: they are merely left orphaned. A row says "a copy of the
 * message srcUID of the other side is being APPENDed to side target of
 * mailbox idx", with the message's size and INTERNALDATE so that a later
 * run can recognise the copy.
 */
#include "sync/store_int.h"

#include "util/alloc.h"

#define JOURNAL_TABLE "qr_append_journal"

/* Prepare sql and bind idx at position 1. */
static int prepare_idx(qr_store *st, const char *sql, int64_t idx, sqlite3_stmt **stmt)
{
    int r = qr_store_prepare(st, sql, stmt);
    if (r == 0)
        sqlite3_bind_int64(*stmt, 1, idx);
    return r;
}

/* Run a statement that takes idx at position 1 and returns no row. */
static int exec_idx(qr_store *st, const char *sql, int64_t idx)
{
    sqlite3_stmt *stmt;
    int r = prepare_idx(st, sql, idx, &stmt);
    return r < 0 ? r : qr_store_step_done(st, stmt, sql);
}

static int bad_name(qr_store *st)
{
    return qr_err_set(&st->err, QR_EINVAL, "%s: invalid mailbox name", st->path);
}

/* --- §12.2 ---------------------------------------------------------------- */

int qr_store_mapping_count(qr_store *st, int64_t idx, uint64_t *count)
{
    static const char sql[] = "SELECT COUNT(*) FROM mapping WHERE idx = ?";
    sqlite3_stmt *stmt;
    int r = prepare_idx(st, sql, idx, &stmt);
    if (r < 0)
        return r;
    r = qr_store_step_row(st, stmt, sql);
    if (r == 1)
        return qr_err_set(&st->err, QR_ESTORE, "%s: %s: no row", st->path, sql);
    if (r < 0)
        return r;
    *count = (uint64_t)sqlite3_column_int64(stmt, 0);
    qr_store_release(st, stmt);
    return 0;
}

int qr_store_mapping_uids_desc(qr_store *st, qr_store_side side, int64_t idx, size_t max,
                               uint32_t *out, size_t *n)
{
    const char *sql = side == QR_STORE_LOCAL
                          ? "SELECT lUID FROM mapping WHERE idx = ? ORDER BY lUID DESC LIMIT ?"
                          : "SELECT rUID FROM mapping WHERE idx = ? ORDER BY rUID DESC LIMIT ?";
    *n = 0;
    sqlite3_stmt *stmt;
    int r = prepare_idx(st, sql, idx, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 2, max > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max);
    while (*n < max && (r = qr_store_step_row(st, stmt, sql)) == 0)
        out[(*n)++] = (uint32_t)sqlite3_column_int64(stmt, 0);
    if (r == 0) /* stopped at max: the statement is still open */
        qr_store_release(st, stmt);
    return r < 0 ? r : 0;
}

/* --- §10 ------------------------------------------------------------------- */

int qr_store_interrupted_foreach(qr_store *st, qr_store_mailbox_fn fn, void *payload)
{
    static const char sql[] =
        "SELECT mbx.idx, mailbox FROM mailboxes mbx JOIN local l ON mbx.idx = l.idx "
        "JOIN remote r ON mbx.idx = r.idx JOIN mapping ON mbx.idx = mapping.idx "
        "WHERE (lUID >= l.UIDNEXT OR rUID >= r.UIDNEXT) GROUP BY mbx.idx ORDER BY mbx.idx";
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    while ((r = qr_store_step_row(st, stmt, sql)) == 0) {
        const void *name = sqlite3_column_blob(stmt, 1);
        size_t len = (size_t)sqlite3_column_bytes(stmt, 1);
        r = fn(payload, sqlite3_column_int64(stmt, 0), name, len, -1);
        if (r != 0) {
            qr_store_release(st, stmt);
            return r;
        }
    }
    return r == 1 ? 0 : r;
}

int qr_store_pending_foreach(qr_store *st, int64_t idx, qr_store_mapping_fn fn, void *payload)
{
    static const char sql[] =
        "SELECT lUID, rUID FROM mapping m JOIN local l ON m.idx = l.idx "
        "JOIN remote r ON m.idx = r.idx WHERE (lUID >= l.UIDNEXT OR rUID >= r.UIDNEXT) "
        "AND m.idx = ? ORDER BY lUID";
    sqlite3_stmt *stmt;
    int r = prepare_idx(st, sql, idx, &stmt);
    if (r < 0)
        return r;
    while ((r = qr_store_step_row(st, stmt, sql)) == 0) {
        r = fn(payload, idx, (uint32_t)sqlite3_column_int64(stmt, 0),
               (uint32_t)sqlite3_column_int64(stmt, 1));
        if (r != 0) {
            qr_store_release(st, stmt);
            return r;
        }
    }
    return r == 1 ? 0 : r;
}

int qr_store_mapping_remove(qr_store *st, qr_store_side side, int64_t idx, uint32_t uid)
{
    const char *sql = side == QR_STORE_LOCAL ? "DELETE FROM mapping WHERE idx = ? AND lUID = ?"
                                             : "DELETE FROM mapping WHERE idx = ? AND rUID = ?";
    sqlite3_stmt *stmt;
    int r = prepare_idx(st, sql, idx, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 2, uid);
    r = qr_store_step_done(st, stmt, sql);
    if (r < 0)
        return r;
    return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

/* --- §11 ------------------------------------------------------------------- */

int qr_store_state_foreach(qr_store *st, qr_store_state_fn fn, void *payload)
{
    static const char sql[] =
        "SELECT mailbox, m.idx AS idx, l.UIDVALIDITY AS lUIDVALIDITY, l.UIDNEXT AS lUIDNEXT, "
        "l.HIGHESTMODSEQ AS lHIGHESTMODSEQ, r.UIDVALIDITY AS rUIDVALIDITY, "
        "r.UIDNEXT AS rUIDNEXT, r.HIGHESTMODSEQ AS rHIGHESTMODSEQ "
        "FROM mailboxes m JOIN local l ON m.idx = l.idx JOIN remote r ON m.idx = r.idx "
        "ORDER BY m.idx";
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    while ((r = qr_store_step_row(st, stmt, sql)) == 0) {
        const void *name = sqlite3_column_blob(stmt, 0);
        size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
        qr_store_cursor local, remote;
        qr_store_read_cursor(stmt, 2, &local);
        qr_store_read_cursor(stmt, 5, &remote);
        r = fn(payload, sqlite3_column_int64(stmt, 1), name, len, &local, &remote);
        if (r != 0) {
            qr_store_release(st, stmt);
            return r;
        }
    }
    return r == 1 ? 0 : r;
}

/* --- APPEND journal ------------------------------------------------------- */

/* *exists = 1 when the journal table exists, else 0. */
static int journal_exists(qr_store *st, int *exists)
{
    static const char sql[] =
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '" JOURNAL_TABLE "'";
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    r = qr_store_step_row(st, stmt, sql);
    if (r < 0)
        return r;
    if (r == 0)
        qr_store_release(st, stmt);
    *exists = r == 0;
    return 0;
}

int qr_store_journal_add(qr_store *st, int64_t idx, qr_store_side target, uint32_t src_uid,
                         uint64_t size, const char *internaldate)
{
    static const char create[] = "CREATE TABLE IF NOT EXISTS " JOURNAL_TABLE " ("
                                 "idx INTEGER NOT NULL, target INTEGER NOT NULL, "
                                 "srcUID INTEGER NOT NULL, size INTEGER NOT NULL, "
                                 "internaldate TEXT NOT NULL, "
                                 "PRIMARY KEY (idx, target, srcUID))";
    static const char sql[] = "INSERT OR REPLACE INTO " JOURNAL_TABLE
                              " (idx, target, srcUID, size, internaldate) VALUES (?,?,?,?,?)";
    if (!internaldate)
        return qr_err_set(&st->err, QR_EINVAL, "%s: journal row without INTERNALDATE", st->path);
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, create, &stmt);
    if (r == 0)
        r = qr_store_step_done(st, stmt, "CREATE TABLE " JOURNAL_TABLE);
    if (r == 0)
        r = prepare_idx(st, sql, idx, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int(stmt, 2, target != QR_STORE_LOCAL);
    sqlite3_bind_int64(stmt, 3, src_uid);
    sqlite3_bind_int64(stmt, 4, qr_store_modseq_encode(size));
    sqlite3_bind_text(stmt, 5, internaldate, -1, SQLITE_STATIC);
    return qr_store_step_done(st, stmt, "INSERT INTO " JOURNAL_TABLE);
}

int qr_store_journal_foreach(qr_store *st, int64_t idx, qr_store_journal_fn fn, void *payload)
{
    static const char sql[] = "SELECT target, srcUID, size, internaldate FROM " JOURNAL_TABLE
                              " WHERE idx = ? ORDER BY target, srcUID";
    int exists = 0;
    int r = journal_exists(st, &exists);
    if (r < 0 || !exists)
        return r;
    sqlite3_stmt *stmt;
    r = prepare_idx(st, sql, idx, &stmt);
    if (r < 0)
        return r;
    while ((r = qr_store_step_row(st, stmt, sql)) == 0) {
        const unsigned char *date = sqlite3_column_text(stmt, 3);
        r = fn(payload, sqlite3_column_int(stmt, 0) ? QR_STORE_REMOTE : QR_STORE_LOCAL,
               (uint32_t)sqlite3_column_int64(stmt, 1),
               qr_store_modseq_decode(sqlite3_column_int64(stmt, 2)),
               date ? (const char *)date : "");
        if (r != 0) {
            qr_store_release(st, stmt);
            return r;
        }
    }
    return r == 1 ? 0 : r;
}

int qr_store_journal_clear(qr_store *st, int64_t idx)
{
    int exists = 0;
    int r = journal_exists(st, &exists);
    if (r < 0 || !exists)
        return r;
    return exec_idx(st, "DELETE FROM " JOURNAL_TABLE " WHERE idx = ?", idx);
}

int qr_store_journal_remove(qr_store *st, int64_t idx, qr_store_side target, uint32_t src_uid)
{
    static const char sql[] =
        "DELETE FROM " JOURNAL_TABLE " WHERE idx = ? AND target = ? AND srcUID = ?";
    int exists = 0;
    int r = journal_exists(st, &exists);
    if (r < 0 || !exists)
        return r;
    sqlite3_stmt *stmt;
    r = prepare_idx(st, sql, idx, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int(stmt, 2, target != QR_STORE_LOCAL);
    sqlite3_bind_int64(stmt, 3, src_uid);
    return qr_store_step_done(st, stmt, sql);
}

int qr_store_journal_has(qr_store *st, int64_t idx)
{
    static const char sql[] = "SELECT 1 FROM " JOURNAL_TABLE " WHERE idx = ? LIMIT 1";
    int exists = 0;
    int r = journal_exists(st, &exists);
    if (r < 0 || !exists)
        return r;
    sqlite3_stmt *stmt;
    r = prepare_idx(st, sql, idx, &stmt);
    if (r < 0)
        return r;
    r = qr_store_step_row(st, stmt, sql);
    if (r == 0)
        qr_store_release(st, stmt);
    return r < 0 ? r : r == 0;
}

/* --- §9 --------------------------------------------------------------------- */

int qr_store_mailbox_delete(qr_store *st, int64_t idx)
{
    static const char *const sql[] = {
        "DELETE FROM mapping WHERE idx = ?",
        "DELETE FROM local WHERE idx = ?",
        "DELETE FROM remote WHERE idx = ?",
        "DELETE FROM mailboxes WHERE idx = ?",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        int r = exec_idx(st, sql[i], idx);
        if (r < 0)
            return r;
    }
    return qr_store_journal_clear(st, idx);
}

/* UPDATE mailboxes SET mailbox = ? WHERE idx = ?; adds the rows changed. */
static int rename_row(qr_store *st, int64_t idx, const void *dest, size_t dlen, uint64_t *changed)
{
    static const char sql[] = "UPDATE mailboxes SET mailbox = ? WHERE idx = ?";
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_blob(stmt, 1, dest, (int)dlen, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, idx);
    r = qr_store_step_done(st, stmt, sql);
    if (r == 0)
        *changed += (uint64_t)sqlite3_changes(st->db);
    return r;
}

/* The descendants of SOURCE: P = SOURCE + NUL; SUBSTR(mailbox, len(P))
 * starts at the NUL, so SOURCE\0x becomes DEST\0x. */
static int rename_children(qr_store *st, const void *source, size_t slen, const void *dest,
                           size_t dlen, uint64_t *changed)
{
    static const char sql[] = "UPDATE mailboxes SET mailbox = CAST(? || SUBSTR(mailbox,?) AS BLOB) "
                              "WHERE SUBSTR(mailbox,1,?) = ?";
    char *prefix = qr_memdup0(source, slen);
    if (!prefix)
        return qr_err_set(&st->err, QR_ENOMEM, "%s: out of memory renaming a mailbox", st->path);
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r == 0) {
        sqlite3_bind_blob(stmt, 1, dest, (int)dlen, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, (int64_t)slen + 1);
        sqlite3_bind_int64(stmt, 3, (int64_t)slen + 1);
        sqlite3_bind_blob(stmt, 4, prefix, (int)slen + 1, SQLITE_STATIC);
        r = qr_store_step_done(st, stmt, sql);
        if (r == 0)
            *changed += (uint64_t)sqlite3_changes(st->db);
    }
    qr_free(prefix);
    return r;
}

int qr_store_mailbox_rename(qr_store *st, int64_t idx, const void *source, size_t slen,
                            const void *dest, size_t dlen, uint64_t *changed)
{
    uint64_t dummy;
    if (!changed)
        changed = &dummy;
    *changed = 0;
    if (!source || slen == 0 || slen >= INT32_MAX || !dest || dlen == 0 || dlen > INT32_MAX)
        return bad_name(st);
    int r = 0;
    if (idx >= 0)
        r = rename_row(st, idx, dest, dlen, changed);
    if (r == 0)
        r = rename_children(st, source, slen, dest, dlen, changed);
    return r;
}
