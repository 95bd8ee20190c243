/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal side of the mailbox / QRESYNC engine (public API in
 * include/qresync/mbox.h).
 *
 * Four files share these definitions:
 *   flags.c    the keyword table (qr_kwtable) and flag sets (qr_flagset);
 *   changes.c  the pending-update table (qr_updtable) and the qr_changes
 *              object built from it;
 *   engine.c   qr_mbox_engine: folding qr_resp events into the tables;
 *   state.c    qr_mbox_state helpers and the QRESYNC SELECT parameters.
 */
#ifndef QR_MBOX_MBOX_P_H
#define QR_MBOX_MBOX_P_H

#include <qresync/mbox.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/*
 * The pending flag updates of an engine: an array of qr_flag_update in
 * arrival order plus an open-addressing index uid -> position. An entry is
 * never removed from the array while the table lives; a vanished UID's
 * entry is marked dead instead (flags freed), so the index needs no
 * tombstones. Invariant: at most one entry (dead or alive) per UID.
 */
typedef struct qr_updtable {
    qr_flag_update *v;   /* owned entries, n in use, cap allocated */
    unsigned char *dead; /* owned, one byte per entry: 1 when the UID vanished */
    size_t n;            /* entries in use */
    size_t cap;          /* entries allocated at v and dead */
    uint32_t *slot;      /* owned index: position + 1, 0 for an empty slot */
    size_t nslot;        /* slots allocated (a power of two, or 0) */
} qr_updtable;

void qr_updtable_init(qr_updtable *t);
void qr_updtable_free(qr_updtable *t);
/* Position of uid's entry, or SIZE_MAX. */
size_t qr_updtable_find(const qr_updtable *t, uint32_t uid);
/*
 * Append an entry for uid (not yet present) with modseq, flags_known and
 * an empty flag set; *pos receives its position. QR_ELIMIT past
 * QR_MBOX_MAX_UPDATES, QR_ENOMEM (table unchanged).
 */
int qr_updtable_add(qr_updtable *t, uint32_t uid, size_t *pos);
/* Mark the entry of every UID of `set` dead (their flags are freed). */
void qr_updtable_kill_set(qr_updtable *t, const qr_uidset *set);

/*
 * Build a change set from the engine's pending data: the table's live
 * entries with uid < base->uidnext and (take_all, modseq 0 or modseq >
 * base->highestmodseq), sorted by UID; vanished = gone minus [base UIDNEXT,
 * ...]; new UIDs copied. On success the flag sets of the kept entries are
 * moved into the change set (the table's copies are emptied); on
 * QR_ENOMEM nothing changed.
 */
int qr_changes_build(qr_changes **out, qr_updtable *t, const qr_uidset *gone,
                     const qr_uidset *newuids, const qr_mbox_state *base, const qr_mbox_state *next,
                     unsigned int flags, int take_all);

/* Case-insensitive ASCII comparison of two byte strings. */
int qr_mbox_ascii_ieq(const char *a, size_t alen, const char *b, size_t blen);

#endif /* QR_MBOX_MBOX_P_H */
