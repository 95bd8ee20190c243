/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The session's side of setup_p.h: the setup policy given by the
 * connection layer, and the layer switches (STARTTLS, COMPRESS).
 *
 * qr_session_setup_configure() copies the policy before the greeting:
 * the link kind, whether STARTTLS is required, the credentials (into a
 * qr_auth, which copies them), COMPRESS, and the ENABLE list (split into
 * names in one owned buffer, at most QR_SETUP_ENABLE_MAX, atoms only).
 *
 * A switch is pending from the tagged OK of STARTTLS or COMPRESS (setup.c
 * sets s->setup.xswitch and pauses the feed) until the driver calls
 * qr_session_switch_done(): meanwhile queue.c starts nothing. The done
 * call records the new link and the channel binding, forgets the
 * capabilities after TLS (spec §3.7: the pre-TLS list may have been
 * forged), and resumes the setup list.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "session/session_p.h"
#include "util/alloc.h"

/* Split the ENABLE list into st->enable. QR_EINVAL, QR_ENOMEM. */
static int set_enable(qr_setup *st, const char *list)
{
    char *p;

    if (list == NULL)
        return 0;
    st->enable_buf = qr_strdup(list);
    if (st->enable_buf == NULL)
        return QR_ENOMEM;
    for (p = strtok(st->enable_buf, " "); p != NULL; p = strtok(NULL, " ")) {
        size_t i;

        if (st->nenable == QR_SETUP_ENABLE_MAX)
            return QR_EINVAL;
        for (i = 0; p[i] != '\0'; i++)
            if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f ||
                strchr("(){%*\"\\]", p[i]) != NULL)
                return QR_EINVAL;
        st->enable[st->nenable++] = p;
    }
    return 0;
}

int qr_session_setup_configure(qr_session *s, const qr_setup_cfg *cfg)
{
    qr_setup *st;
    int rc;

    if (s == NULL || cfg == NULL)
        return QR_EINVAL;
    if (s->phase != QR_PHASE_GREETING || s->state != QR_SESSION_GREETING)
        return qr_err_set(&s->err, QR_EINVAL, "setup policy set after the greeting");
    st = &s->setup;
    qr_setup_free(st);
    st->link = cfg->link;
    st->starttls = cfg->starttls;
    st->compress = cfg->compress;
    rc = set_enable(st, cfg->enable);
    if (rc == QR_EINVAL)
        rc = qr_err_set(&s->err, rc, "bad ENABLE list '%s'", cfg->enable);
    if (rc == 0 && cfg->auth != NULL) {
        rc = qr_auth_new(&st->auth, cfg->auth);
        if (rc < 0)
            qr_err_set(&s->err, rc, "bad authentication options: %s", qr_strerror(rc));
    }
    if (rc < 0)
        qr_setup_free(st);
    return rc;
}

enum qr_switch qr_session_switch_pending(const qr_session *s)
{
    return s != NULL ? s->setup.xswitch : QR_SWITCH_NONE;
}

int qr_session_switch_done(qr_session *s, enum qr_link link, qr_auth_cb_type cb_type,
                           const void *cb, size_t cb_len)
{
    enum qr_switch was;
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    if (s->fatal)
        return s->fatal;
    was = s->setup.xswitch;
    if (was == QR_SWITCH_NONE)
        return qr_err_set(&s->err, QR_EINVAL, "no layer switch pending");
    s->setup.xswitch = QR_SWITCH_NONE;
    s->setup.link = link;
    qr_session_set_channel_binding(s, cb_type, cb, cb_len);
    if (was == QR_SWITCH_TLS)
        qr_caps_clear(s);
    else
        s->setup.compress_active = 1;
    qr_session_ref(s);
    qr_setup_next(s);
    rc = s->fatal;
    qr_session_unref(s); /* may free a session a callback freed */
    return rc;
}

void qr_session_set_channel_binding(qr_session *s, qr_auth_cb_type cb_type, const void *cb,
                                    size_t cb_len)
{
    if (s == NULL || cb_type == QR_AUTH_CB_NONE || cb == NULL || cb_len == 0 ||
        cb_len > QR_SETUP_CB_MAX)
        return;
    s->setup.cb_type = cb_type;
    memcpy(s->setup.cb, cb, cb_len);
    s->setup.cb_len = cb_len;
}

int qr_session_setup_enabled(const qr_session *s, const char *name)
{
    size_t j;

    if (s == NULL || name == NULL)
        return 0;
    for (j = 0; j < s->setup.nenable; j++)
        if ((s->setup.enabled & (1u << j)) && strcasecmp(s->setup.enable[j], name) == 0)
            return 1;
    return 0;
}

void qr_setup_free(qr_setup *st)
{
    qr_auth_free(st->auth);
    qr_free(st->enable_buf);
    explicit_bzero(st->cb, sizeof(st->cb));
    memset(st, 0, sizeof(*st));
}
