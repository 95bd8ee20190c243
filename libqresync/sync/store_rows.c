/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Typed accessors of the state store's rows (spec/interimap.md §5.2,
 * §5.4, §5.5): `mailboxes` by internal name, the `local`/`remote` cursors
 * and the `mapping` pairs.
 *
 * Every statement goes through qr_store_prepare(), which opens the
 * implicit immediate transaction (§5.6); nothing here commits. Names are
 * bound as BLOBs, never TEXT, so that they compare byte for byte with the
 * rows the reference wrote (a TEXT value never equals a BLOB in SQLite).
 * HIGHESTMODSEQ crosses the signed 64-bit column with
 * qr_store_modseq_encode()/decode(): values >= 2^63 are stored as
 * value - 2^64, exactly Perl's two's-complement reinterpretation.
 * Getters return 0 when the row exists and 1 when it does not.
 */
#include "sync/store_int.h"

#include <stdio.h>

int64_t qr_store_modseq_encode(uint64_t modseq)
{
    if (modseq <= (uint64_t)INT64_MAX)
        return (int64_t)modseq;
    /* modseq - 2^64, computed without overflow */
    return -(int64_t)(UINT64_MAX - modseq) - 1;
}

uint64_t qr_store_modseq_decode(int64_t stored)
{
    return (uint64_t)stored; /* C's conversion adds 2^64 to negative values */
}

static const char *const side_table[] = {"local", "remote"};

/* Prepare and bind a mailbox name as a BLOB at position 1. */
static int prepare_name(qr_store *st, const char *sql, const void *name, size_t len,
                        sqlite3_stmt **stmt)
{
    if (!name || len == 0 || len > INT32_MAX)
        return qr_err_set(&st->err, QR_EINVAL, "%s: invalid mailbox name", st->path);
    int r = qr_store_prepare(st, sql, stmt);
    if (r < 0)
        return r;
    sqlite3_bind_blob(*stmt, 1, name, (int)len, SQLITE_STATIC);
    return 0;
}

int qr_store_mailbox_get(qr_store *st, const void *name, size_t len, int64_t *idx, int *subscribed)
{
    sqlite3_stmt *stmt;
    int r = prepare_name(st, "SELECT idx, subscribed FROM mailboxes WHERE mailbox = ?", name, len,
                         &stmt);
    if (r < 0)
        return r;
    r = qr_store_step_row(st, stmt, "SELECT FROM mailboxes");
    if (r != 0)
        return r;
    *idx = sqlite3_column_int64(stmt, 0);
    if (subscribed)
        *subscribed = sqlite3_column_int(stmt, 1);
    qr_store_release(st, stmt);
    return 0;
}

int qr_store_mailbox_add(qr_store *st, const void *name, size_t len, int subscribed, int64_t *idx)
{
    sqlite3_stmt *stmt;
    int r = prepare_name(st, "INSERT INTO mailboxes (mailbox,subscribed) VALUES (?,?)", name, len,
                         &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int(stmt, 2, subscribed ? 1 : 0);
    r = qr_store_step_done(st, stmt, "INSERT INTO mailboxes");
    if (r == 0 && idx)
        *idx = sqlite3_last_insert_rowid(st->db);
    return r;
}

int qr_store_mailbox_set_subscribed(qr_store *st, int64_t idx, int subscribed)
{
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, "UPDATE mailboxes SET subscribed = ? WHERE idx = ?", &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int(stmt, 1, subscribed ? 1 : 0);
    sqlite3_bind_int64(stmt, 2, idx);
    r = qr_store_step_done(st, stmt, "UPDATE mailboxes");
    if (r == 0 && sqlite3_changes(st->db) != 1)
        r = qr_err_set(&st->err, QR_EINVAL, "%s: no mailbox with idx %lld", st->path,
                       (long long)idx);
    return r;
}

int qr_store_mailbox_foreach(qr_store *st, qr_store_mailbox_fn fn, void *payload)
{
    sqlite3_stmt *stmt;
    int r =
        qr_store_prepare(st, "SELECT idx, mailbox, subscribed FROM mailboxes ORDER BY idx", &stmt);
    if (r < 0)
        return r;
    while ((r = qr_store_step_row(st, stmt, "SELECT FROM mailboxes")) == 0) {
        const void *name = sqlite3_column_blob(stmt, 1);
        size_t len = (size_t)sqlite3_column_bytes(stmt, 1);
        r = fn(payload, sqlite3_column_int64(stmt, 0), name, len, sqlite3_column_int(stmt, 2));
        if (r != 0) {
            qr_store_release(st, stmt);
            return r;
        }
    }
    return r == 1 ? 0 : r;
}

int qr_store_cursor_get(qr_store *st, qr_store_side side, int64_t idx, qr_store_cursor *cur)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ FROM %s WHERE idx = ?",
             side_table[side != QR_STORE_LOCAL]);
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, idx);
    r = qr_store_step_row(st, stmt, sql);
    if (r != 0)
        return r;
    qr_store_read_cursor(stmt, 0, cur);
    qr_store_release(st, stmt);
    return 0;
}

int qr_store_cursor_add(qr_store *st, qr_store_side side, int64_t idx, const qr_store_cursor *cur)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (?,?,?,?)",
             side_table[side != QR_STORE_LOCAL]);
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, idx);
    sqlite3_bind_int64(stmt, 2, cur->uidvalidity);
    sqlite3_bind_int64(stmt, 3, cur->uidnext);
    sqlite3_bind_int64(stmt, 4, qr_store_modseq_encode(cur->highestmodseq));
    return qr_store_step_done(st, stmt, sql);
}

int qr_store_cursor_update(qr_store *st, qr_store_side side, int64_t idx, uint32_t uidnext,
                           uint64_t highestmodseq)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "UPDATE %s SET UIDNEXT = ?, HIGHESTMODSEQ = ? WHERE idx = ?",
             side_table[side != QR_STORE_LOCAL]);
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, uidnext);
    sqlite3_bind_int64(stmt, 2, qr_store_modseq_encode(highestmodseq));
    sqlite3_bind_int64(stmt, 3, idx);
    r = qr_store_step_done(st, stmt, sql);
    if (r == 0 && sqlite3_changes(st->db) != 1)
        r = qr_err_set(&st->err, QR_EINVAL, "%s: no %s row for idx %lld", st->path,
                       side_table[side != QR_STORE_LOCAL], (long long)idx);
    return r;
}

int qr_store_cursor_foreach(qr_store *st, qr_store_side side, qr_store_cursor_fn fn, void *payload)
{
    char sql[96];
    snprintf(sql, sizeof(sql),
             "SELECT idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ FROM %s ORDER BY idx",
             side_table[side != QR_STORE_LOCAL]);
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    while ((r = qr_store_step_row(st, stmt, sql)) == 0) {
        qr_store_cursor cur;
        qr_store_read_cursor(stmt, 1, &cur);
        r = fn(payload, sqlite3_column_int64(stmt, 0), &cur);
        if (r != 0) {
            qr_store_release(st, stmt);
            return r;
        }
    }
    return r == 1 ? 0 : r;
}

int qr_store_mapping_add(qr_store *st, int64_t idx, uint32_t luid, uint32_t ruid)
{
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, "INSERT INTO mapping (idx,lUID,rUID) VALUES (?,?,?)", &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, idx);
    sqlite3_bind_int64(stmt, 2, luid);
    sqlite3_bind_int64(stmt, 3, ruid);
    return qr_store_step_done(st, stmt, "INSERT INTO mapping");
}

int qr_store_mapping_delete(qr_store *st, int64_t idx, uint32_t luid)
{
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, "DELETE FROM mapping WHERE idx = ? AND lUID = ?", &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, idx);
    sqlite3_bind_int64(stmt, 2, luid);
    r = qr_store_step_done(st, stmt, "DELETE FROM mapping");
    if (r == 0 && sqlite3_changes(st->db) != 1)
        r = qr_err_set(&st->err, QR_EINVAL, "%s: no mapping for idx %lld, lUID %u", st->path,
                       (long long)idx, luid);
    return r;
}

int qr_store_mapping_lookup(qr_store *st, qr_store_side side, int64_t idx, uint32_t uid,
                            uint32_t *other)
{
    const char *sql = side == QR_STORE_LOCAL
                          ? "SELECT rUID FROM mapping WHERE idx = ? AND lUID = ?"
                          : "SELECT lUID FROM mapping WHERE idx = ? AND rUID = ?";
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st, sql, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, idx);
    sqlite3_bind_int64(stmt, 2, uid);
    r = qr_store_step_row(st, stmt, sql);
    if (r != 0)
        return r;
    *other = (uint32_t)sqlite3_column_int64(stmt, 0);
    qr_store_release(st, stmt);
    return 0;
}

int qr_store_mapping_foreach(qr_store *st, int64_t idx, qr_store_mapping_fn fn, void *payload)
{
    sqlite3_stmt *stmt;
    int r = qr_store_prepare(st,
                             idx < 0 ? "SELECT idx, lUID, rUID FROM mapping ORDER BY idx, lUID"
                                     : "SELECT idx, lUID, rUID FROM mapping WHERE idx = ? "
                                       "ORDER BY idx, lUID",
                             &stmt);
    if (r < 0)
        return r;
    if (idx >= 0)
        sqlite3_bind_int64(stmt, 1, idx);
    while ((r = qr_store_step_row(st, stmt, "SELECT FROM mapping")) == 0) {
        r = fn(payload, sqlite3_column_int64(stmt, 0), (uint32_t)sqlite3_column_int64(stmt, 1),
               (uint32_t)sqlite3_column_int64(stmt, 2));
        if (r != 0) {
            qr_store_release(st, stmt);
            return r;
        }
    }
    return r == 1 ? 0 : r;
}
