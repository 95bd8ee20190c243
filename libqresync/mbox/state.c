/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mailbox state helpers and the parameters of SELECT ... (QRESYNC (...)).
 *
 * qr_mbox_qresync_params() reproduces the reference client (interimap
 * §12.2, imap-client §10.3): the QRESYNC parameter is sent only when
 * UIDVALIDITY is known, HIGHESTMODSEQ > 0 and UIDNEXT > 1; the known-uids
 * are always `1:UIDNEXT-1`; the sequence-match data is a sample of the UIDs
 * the caller knows (its mapping). The reference reads the 1024 highest
 * known UIDs in descending order, grouping runs of consecutive UIDs; each
 * finished run is prepended to the UID text, and once that text is longer
 * than 256 characters it stops (dropping the run in progress); otherwise
 * the last run is added at the end. With `n` UIDs in the sample and
 * `count` known UIDs in all, the sequence numbers are
 * `(count-n+1):count`: the sample is the top of the mailbox, assuming the
 * known UIDs are exactly the messages it holds. A run of the walk is a
 * range of the qr_uidset (ranges are maximal), cut at the 1024-UID limit.
 *
 * qr_mbox_qresync_append() writes the parameter with the typed builder,
 * spelling `1:N` and `a:b` as atoms so that the bytes match the reference
 * even when both ends are equal (`1:1`).
 */
#include "config.h"

#include <qresync/cmd.h>
#include <qresync/mbox.h>
#include <stdio.h>
#include <string.h>

#include "mbox/mbox_p.h"

/* How many of the highest known UIDs the reference samples. */
#define SAMPLE_ROWS 1024
/* Longest sample text before the reference stops. */
#define SAMPLE_TEXT 256

int qr_mbox_state_init(qr_mbox_state *st, unsigned int version)
{
    if (st == NULL || version != QR_MBOX_STATE_VERSION)
        return QR_EINVAL;
    memset(st, 0, sizeof(*st));
    st->version = QR_MBOX_STATE_VERSION;
    return 0;
}

static size_t digits(uint32_t v)
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Length of "lo" or "lo:hi". */
static size_t run_len(uint32_t lo, uint32_t hi)
{
    return digits(lo) + (lo != hi ? 1 + digits(hi) : 0);
}

/* The sample: fill p->sample_uids, seq_first, seq_last. */
static int build_sample(qr_qresync_params *p, const qr_uidset *known)
{
    const qr_range *r;
    size_t nr = 0, k, text = 0;
    uint64_t count = qr_uidset_count(known), n = 0, remaining = SAMPLE_ROWS;
    int rc;

    r = qr_uidset_ranges(known, &nr);
    if (count == 0 || count > UINT32_MAX)
        return 0;
    rc = qr_uidset_new(&p->sample_uids);
    for (k = nr; rc == 0 && k-- > 0 && remaining > 0;) {
        uint32_t hi = r[k].hi, lo = r[k].lo;
        uint64_t size = (uint64_t)hi - lo + 1;
        int last;

        if (size > remaining) {
            size = remaining;
            lo = (uint32_t)(hi - size + 1);
        }
        remaining -= size;
        last = remaining == 0 || k == 0;
        rc = qr_uidset_add_range(p->sample_uids, lo, hi);
        n += size;
        if (last)
            break;
        text += (text ? 1 : 0) + run_len(lo, hi);
        if (text > SAMPLE_TEXT)
            break; /* the run in progress (the next range) is dropped */
    }
    if (rc < 0)
        return rc;
    p->seq_first = (uint32_t)(count - n + 1);
    p->seq_last = (uint32_t)count;
    return 0;
}

int qr_mbox_qresync_params(qr_qresync_params *out, const qr_mbox_state *saved,
                           const qr_uidset *known)
{
    int rc = 0;

    if (out == NULL)
        return QR_EINVAL;
    memset(out, 0, sizeof(*out));
    if (saved == NULL || saved->version != QR_MBOX_STATE_VERSION)
        return QR_EINVAL;
    if (saved->uidvalidity == 0 || saved->highestmodseq == 0 || saved->uidnext <= 1)
        return 0;
    out->use_qresync = 1;
    out->uidvalidity = saved->uidvalidity;
    out->modseq = saved->highestmodseq;
    out->known_last = saved->uidnext - 1;
    if (known)
        rc = build_sample(out, known);
    if (rc < 0)
        qr_mbox_qresync_params_dispose(out);
    return rc;
}

void qr_mbox_qresync_params_dispose(qr_qresync_params *p)
{
    if (p == NULL)
        return;
    qr_uidset_free(p->sample_uids);
    memset(p, 0, sizeof(*p));
}

/* Append "a:b" as one atom. */
static int add_pair(qr_cmd *cmd, uint32_t a, uint32_t b)
{
    char text[32];

    snprintf(text, sizeof(text), "%lu:%lu", (unsigned long)a, (unsigned long)b);
    return qr_cmd_add_atom(cmd, text);
}

int qr_mbox_qresync_append(qr_cmd *cmd, const qr_qresync_params *p)
{
    if (cmd == NULL || p == NULL)
        return QR_EINVAL;
    if (!p->use_qresync)
        return qr_cmd_error(cmd);
    /* The builder's errors are sticky: check once at the end. */
    (void)qr_cmd_list_open(cmd);
    (void)qr_cmd_add_atom(cmd, "QRESYNC");
    (void)qr_cmd_list_open(cmd);
    (void)qr_cmd_add_number(cmd, p->uidvalidity);
    (void)qr_cmd_add_number64(cmd, p->modseq);
    (void)add_pair(cmd, 1, p->known_last);
    if (p->sample_uids && p->seq_first) {
        (void)qr_cmd_list_open(cmd);
        (void)add_pair(cmd, p->seq_first, p->seq_last);
        (void)qr_cmd_add_uidset(cmd, p->sample_uids);
        (void)qr_cmd_list_close(cmd);
    }
    (void)qr_cmd_list_close(cmd);
    (void)qr_cmd_list_close(cmd);
    return qr_cmd_error(cmd);
}
