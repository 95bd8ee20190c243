/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the envelope sender of pulled messages
 * (libqresync/pull/pull_sender.c, spec/pullimap.md §4.3 step 1): dot-strings
 * as they are, other printable local parts quoted with `"` and `\`
 * escaped, 8-bit or control bytes and NIL giving the null sender "", the
 * first address of the ENVELOPE's Sender field, and allocation failures.
 */
#include "config.h"

#include <string.h>

#include "../tap.h"
#include "pull/pull_p.h"
#include "util/alloc.h"

/* pl_sender() of two C strings (NULL for NIL), compared and freed. */
static void check_sender(const char *local, const char *domain, const char *want)
{
    char *got = pl_sender(local, local ? strlen(local) : 0, domain, domain ? strlen(domain) : 0);

    CHECK_STR_EQ(got, want);
    qr_free(got);
}

static void test_dot_string(void)
{
    check_sender("some.one", "example.org", "some.one@example.org");
    check_sender("a", "b.c", "a@b.c");
    check_sender("!#$%&'*+-/=?^_`{|}~", "x.y", "!#$%&'*+-/=?^_`{|}~@x.y");
    check_sender("A.B.9", "[192.0.2.1]", "A.B.9@[192.0.2.1]");
    check_sender("a", "", "a@"); /* the domain is not checked for shape */
}

static void test_quoted_local_part(void)
{
    check_sender("we ird", "ex.org", "\"we ird\"@ex.org");
    check_sender("a..b", "ex.org", "\"a..b\"@ex.org");
    check_sender(".a", "ex.org", "\".a\"@ex.org");
    check_sender("a.", "ex.org", "\"a.\"@ex.org");
    check_sender("say \"hi\"", "ex.org", "\"say \\\"hi\\\"\"@ex.org");
    check_sender("back\\slash", "ex.org", "\"back\\\\slash\"@ex.org");
    check_sender("a(b)c", "ex.org", "\"a(b)c\"@ex.org");
    check_sender("a@b", "ex.org", "\"a@b\"@ex.org");
    check_sender("", "ex.org", "\"\"@ex.org"); /* as the reference: an empty L is printable */
}

static void test_eightbit_and_controls(void)
{
    check_sender("j\xc3\xb6rg", "ex.org", "");
    check_sender("tab\there", "ex.org", "");
    check_sender("del\x7f", "ex.org", "");
    check_sender("a\r\nRCPT", "ex.org", "");
    check_sender("a", "ex.org\r\nRSET", ""); /* beyond the reference: no CR LF into MAIL FROM */
    check_sender("a", "ex ample.org", "");
    check_sender("a", "\xc3\xa9.org", "");
    {
        char *got = pl_sender("a\0b", 3, "ex.org", 6);

        CHECK_STR_EQ(got, "");
        qr_free(got);
    }
}

static void test_nil(void)
{
    check_sender(NULL, "ex.org", "");
    check_sender("a", NULL, "");
    check_sender(NULL, NULL, "");
}

static qr_resp_address addr(const char *mailbox, const char *host)
{
    qr_resp_address a;

    memset(&a, 0, sizeof(a));
    a.mailbox.ptr = mailbox;
    a.mailbox.len = mailbox ? strlen(mailbox) : 0;
    a.host.ptr = host;
    a.host.len = host ? strlen(host) : 0;
    return a;
}

static void test_envelope_sender_field(void)
{
    qr_resp_address from = addr("from", "ex.org");
    qr_resp_address sender[2] = {addr("sender", "ex.org"), addr("second", "ex.org")};
    qr_resp_address group = addr("undisclosed-recipients", NULL);
    qr_resp_envelope e;
    char *got;

    memset(&e, 0, sizeof(e));
    e.from.items = &from;
    e.from.count = 1;
    got = pl_envelope_sender(&e); /* no Sender: the null sender (From is not used) */
    CHECK_STR_EQ(got, "");
    qr_free(got);
    e.sender.items = sender;
    e.sender.count = 2;
    got = pl_envelope_sender(&e);
    CHECK_STR_EQ(got, "sender@ex.org");
    qr_free(got);
    e.sender.items = &group;
    e.sender.count = 1;
    got = pl_envelope_sender(&e);
    CHECK_STR_EQ(got, "");
    qr_free(got);
    got = pl_envelope_sender(NULL);
    CHECK_STR_EQ(got, "");
    qr_free(got);
}

static void test_allocation_failures(void)
{
    unsigned long n, total;
    char *got;

    qr_alloc_fail_at(0, 0);
    (void)qr_alloc_count();
    got = pl_sender("we ird", 6, "ex.org", 6);
    total = qr_alloc_count();
    qr_free(got);
    CHECK(total > 0);
    for (n = 1; n <= total; n++) {
        qr_alloc_fail_at(n, 0);
        got = pl_sender("we ird", 6, "ex.org", 6);
        CHECK(got == NULL);
        qr_alloc_fail_at(0, 0);
        qr_free(got);
    }
}

int main(void)
{
    TAP_RUN(test_dot_string);
    TAP_RUN(test_quoted_local_part);
    TAP_RUN(test_eightbit_and_controls);
    TAP_RUN(test_nil);
    TAP_RUN(test_envelope_sender_field);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
