/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-commands: result collection of the typed commands (commands.h)
 * against the scripted fake server, for what Dovecot cannot easily be
 * made to send: LIST-EXTENDED CHILDINFO and OLDNAME with an unknown
 * extended item, a NIL delimiter and a lower-case inbox; the STATUS
 * fallback with a \Noselect mailbox and a STATUS answered NO; MODIFIED;
 * SELECT responses before and after [CLOSED]; ESEARCH with MODSEQ;
 * APPENDUID over pipelined APPENDs (one failing) and over a MULTIAPPEND;
 * ENABLED; IDLE and DONE (also DONE asked for before the `+`). Each
 * scenario runs whole and byte by byte. Then every allocation of LIST
 * (fallback), APPEND, SELECT, SEARCH and ENABLE fails once in turn.
 */
#include "config.h"

#include <qresync/commands.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "fakeserver.h"
#include "util/alloc.h"

#define RUN_SCRIPT(fs, ...)                                                                        \
    do {                                                                                           \
        static const char *const script_[] = {__VA_ARGS__, NULL};                                  \
        if (fs_run((fs), script_) != 0)                                                            \
            printf("# %s\n", (fs)->err);                                                           \
        CHECK((fs)->err[0] == '\0');                                                               \
    } while (0)

static char log_[4096]; /* what the completions saw */

static void logf_(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#include <stdarg.h>

static void logf_(const char *fmt, ...)
{
    va_list ap;
    size_t len = strlen(log_);

    va_start(ap, fmt);
    vsnprintf(log_ + len, sizeof(log_) - len, fmt, ap);
    va_end(ap);
}

/* A session greeted with `caps`, with the fake server attached. */
static qr_session *start(fakeserver *fs, size_t split, const char *greeting)
{
    qr_session *s = NULL;

    if (qr_session_new(&s, NULL) != 0)
        abort();
    fs_init(fs, s);
    fs->force_split = split;
    log_[0] = '\0';
    {
        const char *script[] = {greeting, NULL};

        if (fs_run(fs, script) != 0)
            printf("# %s\n", fs->err);
    }
    return s;
}

#define GREET_EXT                                                                                  \
    "send * OK [CAPABILITY IMAP4rev1 LITERAL+ LIST-EXTENDED LIST-STATUS ESEARCH] hi\\r\\n"
#define GREET_MIN "send * OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] hi\\r\\n"

static void log_strs(const char *what, const char *const *v, size_t n)
{
    size_t i;

    logf_(" %s=", what);
    for (i = 0; i < n; i++)
        logf_("%s%s", i ? "," : "", v[i]);
}

static int list_done(qr_session *s, const qr_session_result *r, const qr_imap_mailbox *m, size_t n,
                     void *payload)
{
    size_t i;

    (void)s;
    (void)payload;
    logf_("done %s n=%zu\n", fs_status_name(r->status), n);
    for (i = 0; i < n; i++) {
        logf_("[%s|%s|%d|%#x", m[i].name, m[i].raw, m[i].delimiter, m[i].attrs);
        log_strs("attrs", m[i].attributes, m[i].nattributes);
        log_strs("childinfo", m[i].childinfo, m[i].nchildinfo);
        logf_(" old=%s st=%#x/%u/%u]\n", m[i].oldname ? m[i].oldname : "-", m[i].status.present,
              m[i].status.messages, m[i].status.uidnext);
    }
    return 0;
}

static void run_list_extended(size_t split)
{
    qr_imap_list_options o = QR_IMAP_LIST_OPTIONS_INIT;
    fakeserver fs;
    qr_session *s = start(&fs, split, GREET_EXT);

    o.select = QR_LIST_SEL_SUBSCRIBED | QR_LIST_SEL_RECURSIVEMATCH;
    o.ret = QR_LIST_RET_CHILDREN;
    o.status_items = QR_STATUS_MESSAGES | QR_STATUS_UIDNEXT;
    CHECK_INT_EQ(qr_imap_list(s, &o, list_done, NULL), 0);
    RUN_SCRIPT(&fs,
               "expect A1 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" * RETURN (CHILDREN STATUS "
               "(MESSAGES UIDNEXT))\\r\\n",
               "send * LIST (\\\\HasChildren) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\\r\\n",
               "send * LIST (\\\\Subscribed \\\\HasNoChildren) \"/\" \"New&AOk-\" (\"OLDNAME\" "
               "(\"Old&AOk-\") \"X-UNKNOWN\" (1 (2 3)))\\r\\n",
               "send * STATUS \"New&AOk-\" (MESSAGES 3 UIDNEXT 9 X-OTHER 4)\\r\\n",
               "send * LIST (\\\\Noselect \\\\X-Custom) NIL inbox\\r\\n", "send A1 OK done\\r\\n");
    CHECK_STR_EQ(log_,
                 "done OK n=3\n"
                 "[Foo|Foo|47|0x8 attrs=\\HasChildren childinfo=SUBSCRIBED old=- st=0/0/0]\n"
                 "[New\xc3\xa9|New&AOk-|47|0x30 attrs=\\Subscribed,\\HasNoChildren childinfo= "
                 "old=Old\xc3\xa9 st=0x3/3/9]\n"
                 "[INBOX|inbox|-1|0x1 attrs=\\Noselect,\\X-Custom childinfo= old=- "
                 "st=0/0/0]\n");
    qr_session_free(s);
}

static void run_list_fallback(size_t split)
{
    qr_imap_list_options o = QR_IMAP_LIST_OPTIONS_INIT;
    fakeserver fs;
    qr_session *s = start(&fs, split, GREET_MIN);

    o.status_items = QR_STATUS_MESSAGES | QR_STATUS_UIDNEXT;
    CHECK_INT_EQ(qr_imap_list(s, &o, list_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_list(s,
                              &(qr_imap_list_options){QR_IMAP_LIST_OPTIONS_VERSION, NULL, NULL, 0,
                                                      0, QR_LIST_RET_CHILDREN, 0, 0},
                              list_done, NULL),
                 QR_ECAPABILITY);
    RUN_SCRIPT(&fs, "expect A1 LIST \"\" *\\r\\n", "send * LIST () \"/\" A\\r\\n",
               "send * LIST (\\\\Noselect) \"/\" B\\r\\n",
               "send * LIST (\\\\NonExistent) \"/\" B/x\\r\\n", "send * LIST () \"/\" C\\r\\n",
               "send A1 OK listed\\r\\n", "expect A2 STATUS A (MESSAGES UIDNEXT)\\r\\n",
               "expect A3 STATUS C (MESSAGES UIDNEXT)\\r\\n", "quiet",
               "send * STATUS A (MESSAGES 2 UIDNEXT 5)\\r\\nA2 OK s\\r\\n");
    CHECK_STR_EQ(log_, "");
    RUN_SCRIPT(&fs, "send A3 NO [NONEXISTENT] gone\\r\\n");
    CHECK_STR_EQ(log_, "done OK n=4\n"
                       "[A|A|47|0 attrs= childinfo= old=- st=0x3/2/5]\n"
                       "[B|B|47|0x1 attrs=\\Noselect childinfo= old=- st=0/0/0]\n"
                       "[B/x|B/x|47|0x2 attrs=\\NonExistent childinfo= old=- st=0/0/0]\n"
                       "[C|C|47|0 attrs= childinfo= old=- st=0/0/0]\n");
    qr_session_free(s);
}

static int store_done(qr_session *s, const qr_session_result *r, const qr_uidset *mod,
                      void *payload)
{
    qr_buf b = QR_BUF_INIT;

    (void)s;
    (void)payload;
    if (mod != NULL)
        qr_uidset_format(mod, &b);
    logf_("done %s modified=%s\n", fs_status_name(r->status), mod ? b.ptr : "-");
    qr_buf_dispose(&b);
    return 0;
}

static int store_fetch(qr_session *s, const qr_resp_fetch *f, void *payload)
{
    (void)s;
    (void)payload;
    logf_("fetch uid=%u modseq=%llu\n", f->uid, (unsigned long long)f->modseq);
    return 0;
}

static void run_store_modified(size_t split)
{
    static const char *const fl[] = {"\\Seen", "$Junk"};
    qr_imap_store_options o = QR_IMAP_STORE_OPTIONS_INIT;
    qr_uidset *set = NULL;
    fakeserver fs;
    qr_session *s = start(&fs, split, GREET_MIN);

    qr_uidset_new(&set);
    qr_uidset_add_range(set, 7, 10);
    o.mode = QR_STORE_SET;
    o.flags = fl;
    o.nflags = 2;
    o.use_unchangedsince = 1;
    o.unchangedsince = 0;
    o.on_fetch = store_fetch;
    CHECK_INT_EQ(qr_imap_uid_store(s, set, &o, store_done, NULL), 0);
    o.mode = QR_STORE_REMOVE;
    o.use_unchangedsince = 0;
    o.silent = 1;
    CHECK_INT_EQ(qr_imap_uid_store(s, set, &o, store_done, NULL), 0);
    RUN_SCRIPT(&fs, "expect A1 UID STORE 7:10 (UNCHANGEDSINCE 0) FLAGS (\\\\Seen $Junk)\\r\\n",
               "expect A2 UID STORE 7:10 -FLAGS.SILENT (\\\\Seen $Junk)\\r\\n",
               "send * 1 FETCH (UID 8 MODSEQ (12) FLAGS (\\\\Seen $Junk))\\r\\n",
               "send A1 OK [MODIFIED 7,9:10] Conditional STORE failed\\r\\n",
               "send A2 OK done\\r\\n");
    CHECK_STR_EQ(log_, "fetch uid=8 modseq=12\ndone OK modified=7,9:10\ndone OK modified=-\n");
    qr_uidset_free(set);
    qr_session_free(s);
}

static int sel_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    (void)s;
    (void)payload;
    logf_("untagged %s\n", qr_resp_kind_name(r->kind));
    return 0;
}

static int sel_done(qr_session *s, const qr_session_result *r, const qr_imap_select_result *x,
                    void *payload)
{
    (void)s;
    (void)payload;
    logf_("done %s present=%#x uv=%u next=%u hms=%llu exists=%u ro=%d nomodseq=%d",
          fs_status_name(r->status), x->present, x->uidvalidity, x->uidnext,
          (unsigned long long)x->highestmodseq, x->exists, x->read_only, x->nomodseq);
    log_strs("flags", x->flags, x->nflags);
    log_strs("perm", x->permanentflags, x->npermanentflags);
    logf_("\n");
    return 0;
}

static void run_select_closed(size_t split)
{
    qr_qresync_params qp;
    fakeserver fs;
    qr_session *s = start(&fs, split, GREET_MIN);

    memset(&qp, 0, sizeof(qp));
    qp.use_qresync = 1;
    qp.uidvalidity = 42;
    qp.modseq = 90;
    qp.known_last = 5;
    CHECK_INT_EQ(qr_imap_select(s, "B\xc3\xa9", 0, &qp, sel_untagged, sel_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_select(s, "x", QR_SELECT_CONDSTORE, &qp, NULL, NULL, NULL), QR_EINVAL);
    RUN_SCRIPT(&fs, "expect A1 SELECT B&AOk- (QRESYNC (42 90 1:5))\\r\\n",
               "send * OK [UIDVALIDITY 1] old\\r\\n* 9 EXISTS\\r\\n* OK [CLOSED] x\\r\\n",
               "send * FLAGS (\\\\Seen $X)\\r\\n* 5 EXISTS\\r\\n* OK [UIDVALIDITY 42] v\\r\\n",
               "send * OK [UIDNEXT 6] n\\r\\n* OK [NOMODSEQ] m\\r\\n",
               "send * OK [PERMANENTFLAGS (\\\\Seen \\\\*)] p\\r\\n",
               "send * VANISHED (EARLIER) 1:3\\r\\n* 4 FETCH (UID 4 MODSEQ (95) FLAGS ())\\r\\n",
               "send A1 OK [READ-ONLY] done\\r\\n");
    CHECK_STR_EQ(log_, "untagged COND\nuntagged EXISTS\nuntagged COND\nuntagged FLAGS\n"
                       "untagged EXISTS\nuntagged COND\nuntagged COND\nuntagged COND\n"
                       "untagged COND\nuntagged VANISHED\nuntagged FETCH\n"
                       "done OK present=0x3b uv=42 next=6 hms=0 exists=5 ro=1 nomodseq=1 "
                       "flags=\\Seen,$X perm=\\Seen,\\*\n");
    qr_session_free(s);
}

static int search_done(qr_session *s, const qr_session_result *r, const qr_uidset *u, int hm,
                       uint64_t m, int e, void *payload)
{
    qr_buf b = QR_BUF_INIT;

    (void)s;
    (void)payload;
    qr_uidset_format(u, &b);
    logf_("done %s uids=%s hm=%d modseq=%llu esearch=%d\n", fs_status_name(r->status),
          b.ptr ? b.ptr : "", hm, (unsigned long long)m, e);
    qr_buf_dispose(&b);
    return 0;
}

static void run_search(size_t split)
{
    qr_imap_search_options o = QR_IMAP_SEARCH_OPTIONS_INIT;
    qr_uidset *set = NULL;
    fakeserver fs;
    qr_session *s = start(&fs, split, GREET_EXT);

    qr_uidset_new(&set);
    qr_uidset_add_range(set, 1, 100);
    o.uids = set;
    o.since[0] = 2026, o.since[1] = 11, o.since[2] = 5;
    o.before[0] = 2026, o.before[1] = 12, o.before[2] = 1;
    o.modseq = 50;
    o.esearch = 1;
    CHECK_INT_EQ(qr_imap_uid_search(s, &o, search_done, NULL), 0);
    memset(&o, 0, sizeof(o));
    o.version = QR_IMAP_SEARCH_OPTIONS_VERSION;
    CHECK_INT_EQ(qr_imap_uid_search(s, &o, search_done, NULL), 0);
    RUN_SCRIPT(&fs,
               "expect A1 UID SEARCH RETURN (ALL) UID 1:100 SINCE 5-Nov-2026 BEFORE 1-Dec-2026 "
               "MODSEQ 50\\r\\n",
               "expect A2 UID SEARCH ALL\\r\\n",
               "send * ESEARCH (TAG \"A1\") UID ALL 1:3,5 MODSEQ 99\\r\\nA1 OK s\\r\\n",
               "send * SEARCH 4 2 9 (MODSEQ 7)\\r\\nA2 OK s\\r\\n");
    CHECK_STR_EQ(log_, "done OK uids=1:3,5 hm=1 modseq=99 esearch=1\n"
                       "done OK uids=2,4,9 hm=1 modseq=7 esearch=0\n");
    qr_uidset_free(set);
    qr_session_free(s);
}

static int append_done(qr_session *s, const qr_session_result *r, uint32_t uv, const uint32_t *uids,
                       size_t n, void *payload)
{
    size_t i;

    (void)s;
    (void)payload;
    logf_("done %s uv=%u", fs_status_name(r->status), uv);
    for (i = 0; i < n; i++)
        logf_(" %u", uids[i]);
    logf_("\n");
    return 0;
}

static void run_append(size_t split)
{
    static const char *const fl[] = {"\\Seen", "\\Recent"};
    qr_imap_append_msg m[3];
    fakeserver fs;
    qr_session *s = start(&fs, split, GREET_MIN);

    memset(m, 0, sizeof(m));
    m[0].data = "ab";
    m[0].len = 2;
    m[0].flags = fl;
    m[0].nflags = 2;
    m[0].has_date = 1;
    m[0].date = 0;
    m[0].tz_minutes = 60;
    m[1].data = "c";
    m[1].len = 1;
    m[2] = m[1];
    CHECK_INT_EQ(qr_imap_append(s, "INBOX", m, 2, 0, append_done, NULL), 0);
    RUN_SCRIPT(
        &fs, "expect A1 APPEND INBOX (\\\\Seen) \"01-Jan-1970 01:00:00 +0100\" {2+}\\r\\nab\\r\\n",
        "expect A2 APPEND INBOX {1+}\\r\\nc\\r\\n", "send A1 OK [APPENDUID 7 11] a\\r\\n",
        "send A2 NO [OVERQUOTA] full\\r\\n");
    CHECK_STR_EQ(log_, "done NO uv=7 11 0\n");
    qr_session_free(s);
    s = start(&fs, split, "send * OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS MULTIAPPEND] hi\\r\\n");
    CHECK_INT_EQ(qr_imap_append(s, "INBOX", m, 3, 0, append_done, NULL), 0);
    RUN_SCRIPT(&fs,
               "expect A1 APPEND INBOX (\\\\Seen) \"01-Jan-1970 01:00:00 +0100\" {2+}\\r\\nab "
               "{1+}\\r\\nc {1+}\\r\\nc\\r\\n",
               "send A1 OK [APPENDUID 7 20:22] a\\r\\n");
    CHECK_STR_EQ(log_, "done OK uv=7 20 21 22\n");
    qr_session_free(s);
}

static int enable_done(qr_session *s, const qr_session_result *r, const char *const *e, size_t n,
                       void *payload)
{
    (void)s;
    (void)payload;
    logf_("done %s", fs_status_name(r->status));
    log_strs("enabled", e, n);
    logf_("\n");
    return 0;
}

static void run_enable(size_t split)
{
    static const char *const caps[] = {"CONDSTORE", "QRESYNC"};
    fakeserver fs;
    qr_session *s = start(&fs, split, GREET_MIN);

    CHECK_INT_EQ(qr_imap_enable(s, caps, 2, enable_done, NULL), 0);
    RUN_SCRIPT(&fs, "expect A1 ENABLE CONDSTORE QRESYNC\\r\\n",
               "send * ENABLED CONDSTORE\\r\\n* ENABLED QRESYNC\\r\\nA1 OK e\\r\\n");
    CHECK_STR_EQ(log_, "done OK enabled=CONDSTORE,QRESYNC\n");
    /* cancelled commands complete once with what they had */
    CHECK_INT_EQ(qr_imap_enable(s, caps, 1, enable_done, NULL), 0);
    log_[0] = '\0';
    qr_session_free(s);
    CHECK_STR_EQ(log_, "done CANCELED enabled=\n");
}

static int idle_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    (void)payload;
    logf_("untagged %s\n", qr_resp_kind_name(r->kind));
    if (r->kind == QR_RESP_EXISTS)
        CHECK_INT_EQ(qr_imap_idle_done(s), 0);
    return 0;
}

static int idle_done(qr_session *s, const qr_session_result *r, void *payload)
{
    (void)s;
    (void)payload;
    logf_("done %s %s\n", r->tag, fs_status_name(r->status));
    return 0;
}

static void run_idle(size_t split)
{
    fakeserver fs;
    qr_session *s = start(&fs, split, GREET_MIN);

    CHECK_INT_EQ(qr_imap_idle(s, idle_untagged, idle_done, NULL), QR_ECAPABILITY);
    CHECK_INT_EQ(qr_imap_idle_done(s), QR_EINVAL);
    qr_session_free(s);
    s = start(&fs, split, "send * OK [CAPABILITY IMAP4rev1 IDLE] hi\\r\\n");
    CHECK_INT_EQ(qr_imap_idle(s, idle_untagged, idle_done, NULL), 0);
    CHECK_INT_EQ(qr_session_noop(s, idle_done, NULL), 0);
    /* idling: an EXISTS makes the callback ask for DONE */
    RUN_SCRIPT(&fs, "expect A1 IDLE\\r\\n", "quiet", "send + idling\\r\\n", "quiet",
               "send * 3 EXISTS\\r\\n", "expect DONE\\r\\n", "quiet", "send A1 OK idle done\\r\\n",
               "expect A2 NOOP\\r\\n", "send A2 OK n\\r\\n");
    /* DONE asked for before the "+" goes right after it */
    CHECK_INT_EQ(qr_imap_idle(s, idle_untagged, idle_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_idle_done(s), 0);
    CHECK_INT_EQ(qr_imap_idle_done(s), 0);
    RUN_SCRIPT(&fs, "expect A3 IDLE\\r\\n", "quiet", "send + idling\\r\\n", "expect DONE\\r\\n",
               "quiet", "send A3 OK d\\r\\n", "quiet");
    CHECK_STR_EQ(log_, "untagged EXISTS\ndone A1 OK\ndone A2 OK\ndone A3 OK\n");
    qr_session_free(s);
}

/* --- allocation failures ------------------------------------------------------ */

static int n_completions;

static int count_list(qr_session *s, const qr_session_result *r, const qr_imap_mailbox *m, size_t n,
                      void *p)
{
    (void)s, (void)r, (void)m, (void)n, (void)p;
    n_completions++;
    return 0;
}

static int count_append(qr_session *s, const qr_session_result *r, uint32_t uv, const uint32_t *u,
                        size_t n, void *p)
{
    (void)s, (void)r, (void)uv, (void)u, (void)n, (void)p;
    n_completions++;
    return 0;
}

static int count_select(qr_session *s, const qr_session_result *r, const qr_imap_select_result *x,
                        void *p)
{
    (void)s, (void)r, (void)x, (void)p;
    n_completions++;
    return 0;
}

static int count_search(qr_session *s, const qr_session_result *r, const qr_uidset *u, int hm,
                        uint64_t m, int e, void *p)
{
    (void)s, (void)r, (void)u, (void)hm, (void)m, (void)e, (void)p;
    n_completions++;
    return 0;
}

static int count_enable(qr_session *s, const qr_session_result *r, const char *const *e, size_t n,
                        void *p)
{
    (void)s, (void)r, (void)e, (void)n, (void)p;
    n_completions++;
    return 0;
}

/* Submit one command of kind k; its server answer goes to *answer. */
static int alloc_submit(qr_session *s, int k, const char **answer)
{
    static const char *const fl[] = {"\\Seen"};
    static const char *const caps[] = {"QRESYNC"};
    qr_imap_list_options lo = QR_IMAP_LIST_OPTIONS_INIT;
    qr_imap_search_options so = QR_IMAP_SEARCH_OPTIONS_INIT;
    qr_imap_append_msg m[2];

    switch (k) {
    case 0:
        lo.status_items = QR_STATUS_MESSAGES;
        *answer = "* LIST () \"/\" \"A&AOk-\" (\"OLDNAME\" (\"B\") \"CHILDINFO\" (\"X\"))\r\n"
                  "* LIST () \"/\" C\r\nA1 OK l\r\n* STATUS \"A&AOk-\" (MESSAGES 1)\r\n"
                  "A2 OK s\r\nA3 NO n\r\n";
        return qr_imap_list(s, &lo, count_list, NULL);
    case 1:
        memset(m, 0, sizeof(m));
        m[0].data = m[1].data = "x";
        m[0].len = m[1].len = 1;
        m[0].flags = fl;
        m[0].nflags = 1;
        *answer = "A1 OK [APPENDUID 1 5] a\r\nA2 OK [APPENDUID 1 6] a\r\n";
        return qr_imap_append(s, "INBOX", m, 2, 0, count_append, NULL);
    case 2:
        *answer = "* OK [CLOSED] c\r\n* FLAGS (\\Seen)\r\n* OK [PERMANENTFLAGS (\\Seen)] p\r\n"
                  "* 2 EXISTS\r\nA1 OK [READ-WRITE] s\r\n";
        return qr_imap_select(s, "INBOX", QR_SELECT_CONDSTORE, NULL, NULL, count_select, NULL);
    case 3:
        *answer = "* SEARCH 1 2 3\r\n* ESEARCH UID ALL 7:9\r\nA1 OK s\r\n";
        return qr_imap_uid_search(s, &so, count_search, NULL);
    default:
        *answer = "* ENABLED QRESYNC\r\nA1 OK e\r\n";
        return qr_imap_enable(s, caps, 1, count_enable, NULL);
    }
}

/* Every allocation of every command fails once: either the submit says
 * QR_ENOMEM and nothing fires, or exactly one completion fires (ASan
 * checks that nothing leaks). */
static void test_alloc_failures(void)
{
    unsigned long n;
    int k, bad = 0;

    for (k = 0; k < 5; k++) {
        for (n = 1; n < 200; n++) {
            fakeserver fs;
            const char *answer = "";
            qr_session *s = start(&fs, 0, GREET_MIN);
            int rc, failed;

            n_completions = 0;
            qr_alloc_fail_at(n, 0);
            rc = alloc_submit(s, k, &answer);
            fs_pull(&fs);
            fs_send(&fs, answer, strlen(answer));
            fs_pull(&fs);
            qr_session_free(s);
            failed = qr_alloc_failed();
            qr_alloc_fail_at(0, 0);
            if ((rc == 0 && n_completions != 1) || (rc != 0 && (rc != QR_ENOMEM || n_completions)))
                bad++;
            if (!failed)
                break; /* every allocation point was tried */
        }
        CHECK(n < 200);
    }
    CHECK_INT_EQ(bad, 0);
}

#define BOTH(fn)                                                                                   \
    static void test_##fn(void)                                                                    \
    {                                                                                              \
        char whole[sizeof(log_)];                                                                  \
        run_##fn(0);                                                                               \
        memcpy(whole, log_, sizeof(log_));                                                         \
        run_##fn(1);                                                                               \
        CHECK_STR_EQ(log_, whole);                                                                 \
    }

BOTH(list_extended)
BOTH(list_fallback)
BOTH(store_modified)
BOTH(select_closed)
BOTH(search)
BOTH(append)
BOTH(enable)
BOTH(idle)

int main(void)
{
    TAP_RUN(test_list_extended);
    TAP_RUN(test_list_fallback);
    TAP_RUN(test_store_modified);
    TAP_RUN(test_select_closed);
    TAP_RUN(test_search);
    TAP_RUN(test_append);
    TAP_RUN(test_enable);
    TAP_RUN(test_idle);
    TAP_RUN(test_alloc_failures);
    return tap_done();
}
