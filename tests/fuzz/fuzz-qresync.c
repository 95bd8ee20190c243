/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-qresync: the QRESYNC engine fed with arbitrary server bytes.
 *
 * Input: 8 control bytes, then the server stream (after an implicit
 * greeting). Control: byte 0 bit 0 = a cached state exists, bits 1-2 =
 * closed_expected, bit 3 = a second take mid-stream; bytes 1-2 = cached
 * UIDNEXT (0-65535), byte 3 = cached HIGHESTMODSEQ, byte 4 = cached
 * UIDVALIDITY (0 = unknown), byte 5 = split point for the second take,
 * bytes 6-7 = slice size for the parser (0 = whole).
 *
 * Differential checks (any violation aborts):
 *   - two engines fed the same events, one taken with QR_MBOX_TAKE_ALL:
 *     the filtered change set is exactly the TAKE_ALL one minus the updates
 *     whose MODSEQ is not above the base HIGHESTMODSEQ; the same vanished,
 *     new UIDs, states, flags and errors;
 * and invariants of every change set:
 *   - vanished, updated and new UIDs are pairwise disjoint;
 *   - vanished and updated UIDs < base UIDNEXT (1 when unknown) <= new UIDs;
 *   - updates sorted by UID, strictly; qr_changes_find() finds each;
 *   - next UIDNEXT >= base UIDNEXT and > every new UID (unless 4294967295);
 *   - next HIGHESTMODSEQ >= the MODSEQ of every update;
 *   - every flag set formats, with sorted distinct keyword ids.
 */
#include "config.h"

#include <qresync/error.h>
#include <qresync/mbox.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/mbox-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_invariants(const qr_changes *c, const qr_kwtable *kw)
{
    const qr_mbox_state *base = qr_changes_base(c), *next = qr_changes_state(c);
    const qr_uidset *v = qr_changes_vanished(c), *nw = qr_changes_new_uids(c);
    const qr_flag_update *u;
    const qr_range *r;
    uint32_t bu = base->uidnext ? base->uidnext : 1;
    size_t n = 0, i, k;

    r = qr_uidset_ranges(v, &n);
    REQUIRE(n == 0 || r[n - 1].hi < bu);
    r = qr_uidset_ranges(nw, &n);
    REQUIRE(n == 0 || r[0].lo >= bu);
    REQUIRE(n == 0 || r[n - 1].hi < next->uidnext || next->uidnext == UINT32_MAX);
    REQUIRE(next->uidnext >= base->uidnext);
    for (i = 0; i < n; i++)
        REQUIRE(!qr_uidset_contains(v, r[i].lo) && !qr_uidset_contains(v, r[i].hi));
    u = qr_changes_updates(c, &n);
    for (i = 0; i < n; i++) {
        qr_buf b = QR_BUF_INIT;

        REQUIRE(u[i].uid < bu);
        REQUIRE(i == 0 || u[i - 1].uid < u[i].uid);
        REQUIRE(!qr_uidset_contains(v, u[i].uid) && !qr_uidset_contains(nw, u[i].uid));
        REQUIRE(qr_changes_find(c, u[i].uid) == &u[i]);
        REQUIRE(u[i].modseq <= next->highestmodseq || u[i].modseq == 0);
        for (k = 1; k < u[i].flags.nkw; k++)
            REQUIRE(u[i].flags.kw[k - 1] < u[i].flags.kw[k]);
        REQUIRE(u[i].flags_known || (u[i].flags.sys == 0 && u[i].flags.nkw == 0));
        REQUIRE(qr_flagset_format(&u[i].flags, kw, 0, &b) == 0);
        qr_buf_dispose(&b);
    }
}

/* The TAKE_ALL set filtered as a plain take filters it. */
static void render_filtered(const qr_changes *all, const qr_kwtable *kw, char *out, size_t cap)
{
    const qr_mbox_state *base = qr_changes_base(all);
    const qr_flag_update *u;
    size_t n = 0, i, k = 0;
    char tmp[64];

    out[0] = '\0';
    mbox_cat(out, cap, "V=");
    mbox_cat_set(out, cap, qr_changes_vanished(all));
    mbox_cat(out, cap, " N=");
    mbox_cat_set(out, cap, qr_changes_new_uids(all));
    mbox_cat(out, cap, " U=");
    u = qr_changes_updates(all, &n);
    for (i = 0; i < n; i++) {
        qr_buf b = QR_BUF_INIT;

        if (u[i].modseq != 0 && u[i].modseq <= base->highestmodseq)
            continue;
        snprintf(tmp, sizeof(tmp), "%s%lu/%llu ", k++ ? ";" : "", (unsigned long)u[i].uid,
                 (unsigned long long)u[i].modseq);
        mbox_cat(out, cap, tmp);
        if (!u[i].flags_known)
            mbox_cat(out, cap, "?");
        else if (qr_flagset_format(&u[i].flags, kw, QR_FLAGSET_FORMAT_PARENS, &b) == 0)
            mbox_cat(out, cap, b.ptr);
        qr_buf_dispose(&b);
    }
    snprintf(tmp, sizeof(tmp), " F=%x", qr_changes_flags(all));
    mbox_cat(out, cap, tmp);
}

/* Take from both engines and compare. */
static void take_and_compare(qr_mbox_engine *a, qr_mbox_engine *b, qr_kwtable *kw)
{
    static char ra[1 << 16], rb[1 << 16];
    char sa[128], sb[128];
    qr_changes *ca = NULL, *cb = NULL;
    int rca = qr_mbox_engine_take(a, 0, &ca), rcb = qr_mbox_engine_take(b, QR_MBOX_TAKE_ALL, &cb);

    REQUIRE(rca == rcb);
    if (rca == 0) {
        check_invariants(ca, kw);
        check_invariants(cb, kw);
        mbox_render(ca, kw, ra, sizeof(ra));
        render_filtered(cb, kw, rb, sizeof(rb));
        REQUIRE(strcmp(ra, rb) == 0);
        mbox_render_state(qr_changes_state(ca), sa, sizeof(sa));
        mbox_render_state(qr_changes_state(cb), sb, sizeof(sb));
        REQUIRE(strcmp(sa, sb) == 0);
    } else {
        REQUIRE(ca == NULL && cb == NULL);
        REQUIRE(qr_mbox_engine_last_error(a)->code == rca);
    }
    qr_changes_free(ca);
    qr_changes_free(cb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qr_mbox_state st = QR_MBOX_STATE_INIT;
    qr_kwtable *kw = NULL;
    qr_mbox_engine *a = NULL, *b = NULL;
    const char *wire;
    size_t len, split, step;
    int erc_a = 0, erc_b = 0, pa, pb;

    if (size < 8)
        return 0;
    st.uidnext = (uint32_t)data[1] << 8 | data[2];
    st.highestmodseq = data[3];
    st.uidvalidity = data[4];
    wire = (const char *)data + 8;
    len = size - 8;
    split = (data[0] & 8) ? (len * data[5]) / 255 : len;
    step = (size_t)data[6] << 8 | data[7];
    REQUIRE(qr_kwtable_new(&kw) == 0);
    REQUIRE(qr_mbox_engine_new(&a, (data[0] & 1) ? &st : NULL, kw) == 0);
    REQUIRE(qr_mbox_engine_new(&b, (data[0] & 1) ? &st : NULL, kw) == 0);
    REQUIRE(qr_mbox_engine_begin_select(a, (data[0] >> 1) & 3) == 0);
    REQUIRE(qr_mbox_engine_begin_select(b, (data[0] >> 1) & 3) == 0);
    /* Each engine gets its own parser over the same bytes: same events. */
    pa = mbox_feed_bytes(a, wire, split, step, &erc_a);
    pb = mbox_feed_bytes(b, wire, split, step ? 1 + step % 7 : 0, &erc_b);
    REQUIRE(pa == pb && erc_a == erc_b);
    if (split < len && pa == 0) {
        take_and_compare(a, b, kw);
        /* the rest as a new stream (a new parser: skip to a line start) */
        pa = mbox_feed_bytes(a, wire + split, len - split, step, &erc_a);
        pb = mbox_feed_bytes(b, wire + split, len - split, 0, &erc_b);
        REQUIRE(pa == pb && erc_a == erc_b);
    }
    REQUIRE(qr_mbox_engine_phase(a) == qr_mbox_engine_phase(b));
    take_and_compare(a, b, kw);
    qr_mbox_engine_free(a);
    qr_mbox_engine_free(b);
    qr_kwtable_free(kw);
    return 0;
}
