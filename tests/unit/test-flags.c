/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for flag sets and the keyword table (libqresync/mbox/flags.c):
 * interning (case-insensitive, first spelling kept), set algebra, and the
 * flag strings exactly as the reference prints them (interimap §12.3/§16).
 */
#include "config.h"

#include <qresync/error.h>
#include <qresync/mbox.h>

#include "../tap.h"
#include "util/alloc.h"

/* Build a flag set from space-separated names. */
static int set_of(qr_flagset *fs, qr_kwtable *kw, const char *names)
{
    const char *s = names;

    qr_flagset_clear(fs);
    while (*s) {
        const char *e = strchr(s, ' ');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        int rc = qr_flagset_add_name(fs, kw, s, n);
        if (rc < 0)
            return rc;
        s += n;
        while (*s == ' ')
            s++;
    }
    return 0;
}

/* Format fs and compare with want. */
static void check_format(const qr_flagset *fs, const qr_kwtable *kw, unsigned int flags,
                         const char *want)
{
    qr_buf b = QR_BUF_INIT;

    CHECK_INT_EQ(qr_flagset_format(fs, kw, flags, &b), 0);
    CHECK_STR_EQ(b.ptr, want);
    qr_buf_dispose(&b);
}

static void test_system_bits(void)
{
    CHECK_UINT_EQ(qr_flag_system_bit("\\Seen", 5), QR_FLAG_SEEN);
    CHECK_UINT_EQ(qr_flag_system_bit("\\SEEN", 5), QR_FLAG_SEEN);
    CHECK_UINT_EQ(qr_flag_system_bit("\\answered", 9), QR_FLAG_ANSWERED);
    CHECK_UINT_EQ(qr_flag_system_bit("\\Flagged", 8), QR_FLAG_FLAGGED);
    CHECK_UINT_EQ(qr_flag_system_bit("\\Deleted", 8), QR_FLAG_DELETED);
    CHECK_UINT_EQ(qr_flag_system_bit("\\Draft", 6), QR_FLAG_DRAFT);
    CHECK_UINT_EQ(qr_flag_system_bit("\\Recent", 7), QR_FLAG_RECENT);
    CHECK_UINT_EQ(qr_flag_system_bit("\\See", 4), 0);
    CHECK_UINT_EQ(qr_flag_system_bit("Seen", 4), 0);
    CHECK_UINT_EQ(qr_flag_system_bit("\\Important", 10), 0);
}

static void test_interning_is_case_insensitive_and_keeps_first_spelling(void)
{
    qr_kwtable *kw = NULL;
    uint32_t a = 99, b = 99, c = 99, d = 99;
    size_t len = 0;

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "$Junk", 5, &a), 0);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "$JUNK", 5, &b), 0);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "$junk", 5, &c), 0);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "$Label1", 7, &d), 0);
    CHECK_UINT_EQ(a, 0);
    CHECK_UINT_EQ(b, 0);
    CHECK_UINT_EQ(c, 0);
    CHECK_UINT_EQ(d, 1);
    CHECK_UINT_EQ(qr_kwtable_count(kw), 2);
    CHECK_STR_EQ(qr_kwtable_name(kw, 0, &len), "$Junk");
    CHECK_UINT_EQ(len, 5);
    CHECK(qr_kwtable_name(kw, 2, NULL) == NULL);
    CHECK_INT_EQ(qr_kwtable_lookup(kw, "$LABEL1", 7, &a), 1);
    CHECK_UINT_EQ(a, 1);
    CHECK_INT_EQ(qr_kwtable_lookup(kw, "$Label2", 7, NULL), 0);
    /* a prefix is another name */
    CHECK_INT_EQ(qr_kwtable_lookup(kw, "$Jun", 4, NULL), 0);
    qr_kwtable_free(kw);
}

static void test_intern_rejects_bad_names(void)
{
    qr_kwtable *kw = NULL;
    uint32_t id;
    char longname[QR_KWTABLE_MAX_NAME + 2];

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "", 0, &id), QR_EINVAL);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "a b", 3, &id), QR_EINVAL);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "a(", 2, &id), QR_EINVAL);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "a\r", 2, &id), QR_EINVAL);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "a\\b", 3, &id), QR_EINVAL);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "\\*", 2, &id), QR_EINVAL);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "\\seen", 5, &id), QR_EINVAL);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "\\Recent", 7, &id), QR_EINVAL);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "\\Important", 10, &id), 0);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "caf\xc3\xa9", 5, &id), 0);
    memset(longname, 'x', sizeof(longname));
    CHECK_INT_EQ(qr_kwtable_intern(kw, longname, QR_KWTABLE_MAX_NAME, &id), 0);
    CHECK_INT_EQ(qr_kwtable_intern(kw, longname, QR_KWTABLE_MAX_NAME + 1, &id), QR_ELIMIT);
    CHECK_UINT_EQ(qr_kwtable_count(kw), 3);
    qr_kwtable_free(kw);
}

static void test_table_grows_past_its_index(void)
{
    qr_kwtable *kw = NULL;
    char name[16];
    uint32_t id = 0, i;
    int rc = 0;

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    for (i = 0; i < 5000 && rc == 0; i++) {
        snprintf(name, sizeof(name), "$K%u", (unsigned)i);
        rc = qr_kwtable_intern(kw, name, strlen(name), &id);
        if (id != i)
            rc = -100;
    }
    CHECK_INT_EQ(rc, 0);
    snprintf(name, sizeof(name), "$k%u", 4321u);
    CHECK_INT_EQ(qr_kwtable_lookup(kw, name, strlen(name), &id), 1);
    CHECK_UINT_EQ(id, 4321);
    CHECK_UINT_EQ(qr_kwtable_count(kw), 5000);
    qr_kwtable_free(kw);
}

static void test_format_matches_the_reference(void)
{
    qr_kwtable *kw = NULL;
    qr_flagset fs = QR_FLAGSET_INIT;

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    /* interimap §16: the union of (\Flagged \Seen) and ($Label1 \Seen) */
    CHECK_INT_EQ(set_of(&fs, kw, "\\Seen \\Flagged $Label1"), 0);
    check_format(&fs, kw, QR_FLAGSET_FORMAT_PARENS, "($Label1 \\Flagged \\Seen)");
    check_format(&fs, kw, 0, "$Label1 \\Flagged \\Seen");
    /* \Recent dropped unless asked for; system flags canonically spelled */
    CHECK_INT_EQ(set_of(&fs, kw, "\\RECENT \\seen"), 0);
    check_format(&fs, kw, 0, "\\Seen");
    check_format(&fs, kw, QR_FLAGSET_FORMAT_RECENT, "\\Recent \\Seen");
    /* bytewise: '$' < 'A'..'Z' < '\\' < 'a'..'z'; shorter prefix first */
    CHECK_INT_EQ(set_of(&fs, kw, "nonjunk \\Draft Junk $Junk2 $Junk \\Answered \\Deleted"), 0);
    check_format(&fs, kw, 0, "$Junk $Junk2 Junk \\Answered \\Deleted \\Draft nonjunk");
    /* every system flag, in the reference's (bytewise) order */
    CHECK_INT_EQ(set_of(&fs, kw, "\\Seen \\Draft \\Flagged \\Deleted \\Answered"), 0);
    check_format(&fs, kw, QR_FLAGSET_FORMAT_PARENS,
                 "(\\Answered \\Deleted \\Draft \\Flagged \\Seen)");
    /* empty */
    CHECK_INT_EQ(set_of(&fs, kw, "\\Recent"), 0);
    check_format(&fs, kw, 0, "");
    check_format(&fs, kw, QR_FLAGSET_FORMAT_PARENS, "()");
    /* the first spelling interned is printed */
    CHECK_INT_EQ(set_of(&fs, kw, "$JUNK"), 0);
    check_format(&fs, kw, 0, "$Junk");
    qr_flagset_dispose(&fs);
    qr_kwtable_free(kw);
}

static void test_format_rejects_unknown_ids(void)
{
    qr_kwtable *kw = NULL;
    qr_flagset fs = QR_FLAGSET_INIT;
    qr_buf b = QR_BUF_INIT;

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_flagset_add_keyword(&fs, 7), 0);
    CHECK_INT_EQ(qr_flagset_format(&fs, kw, 0, &b), QR_EINVAL);
    CHECK(b.ptr == NULL);
    CHECK_INT_EQ(qr_flagset_format(&fs, kw, 0x80, &b), QR_EINVAL);
    qr_flagset_dispose(&fs);
    qr_kwtable_free(kw);
}

static void test_equality_union_difference(void)
{
    qr_kwtable *kw = NULL;
    qr_flagset a = QR_FLAGSET_INIT, b = QR_FLAGSET_INIT, c = QR_FLAGSET_INIT;

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(set_of(&a, kw, "$b \\Seen $a"), 0);
    CHECK_INT_EQ(set_of(&b, kw, "$A \\seen $B \\Recent"), 0);
    CHECK_INT_EQ(qr_flagset_equal(&a, &b, 0), 1);
    CHECK_INT_EQ(qr_flagset_equal(&a, &b, 1), 0);
    CHECK_UINT_EQ(a.nkw, 2);
    CHECK(a.kw[0] < a.kw[1]);

    CHECK_INT_EQ(set_of(&c, kw, "$c \\Flagged $a"), 0);
    CHECK_INT_EQ(qr_flagset_union(&a, &c), 0);
    check_format(&a, kw, 0, "$a $b $c \\Flagged \\Seen");
    CHECK_UINT_EQ(a.nkw, 3);
    CHECK_INT_EQ(qr_flagset_union(&a, &a), 0);
    CHECK_UINT_EQ(a.nkw, 3);

    qr_flagset_difference(&a, &b);
    check_format(&a, kw, 0, "$c \\Flagged");
    CHECK_INT_EQ(qr_flagset_has_keyword(&a, 2), 1);
    CHECK_INT_EQ(qr_flagset_has_keyword(&a, 0), 0);
    CHECK_INT_EQ(qr_flagset_copy(&b, &a), 0);
    CHECK_INT_EQ(qr_flagset_equal(&a, &b, 1), 1);
    qr_flagset_difference(&b, &b);
    CHECK_UINT_EQ(b.sys, 0);
    CHECK_UINT_EQ(b.nkw, 0);
    /* ids added out of order end up sorted and distinct */
    CHECK_INT_EQ(qr_flagset_add_keyword(&b, 9), 0);
    CHECK_INT_EQ(qr_flagset_add_keyword(&b, 3), 0);
    CHECK_INT_EQ(qr_flagset_add_keyword(&b, 9), 0);
    CHECK_INT_EQ(qr_flagset_add_keyword(&b, 5), 0);
    CHECK_UINT_EQ(b.nkw, 3);
    CHECK(b.kw[0] == 3 && b.kw[1] == 5 && b.kw[2] == 9);
    qr_flagset_dispose(&a);
    qr_flagset_dispose(&b);
    qr_flagset_dispose(&c);
    qr_flagset_dispose(NULL);
    qr_kwtable_free(kw);
}

static void test_flagset_keyword_cap(void)
{
    qr_flagset fs = QR_FLAGSET_INIT;
    uint32_t i;
    int rc = 0;

    for (i = 0; i < QR_FLAGSET_MAX_KEYWORDS && rc == 0; i++)
        rc = qr_flagset_add_keyword(&fs, i * 2);
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(qr_flagset_add_keyword(&fs, 1), QR_ELIMIT);
    CHECK_INT_EQ(qr_flagset_add_keyword(&fs, 2), 0); /* already there */
    CHECK_UINT_EQ(fs.nkw, QR_FLAGSET_MAX_KEYWORDS);
    qr_flagset_dispose(&fs);
}

static void test_allocation_failures(void)
{
    unsigned long points, n;
    qr_kwtable *kw = NULL;
    qr_flagset a = QR_FLAGSET_INIT, b = QR_FLAGSET_INIT;
    qr_buf out = QR_BUF_INIT;
    int rc;

    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    (void)set_of(&a, kw, "$x \\Seen $y");
    (void)set_of(&b, kw, "$z $x");
    (void)qr_flagset_union(&a, &b);
    (void)qr_flagset_format(&a, kw, QR_FLAGSET_FORMAT_PARENS, &out);
    points = qr_alloc_count();
    qr_buf_dispose(&out);
    qr_flagset_dispose(&a);
    qr_flagset_dispose(&b);
    qr_kwtable_free(kw);
    CHECK(points >= 6);

    for (n = 1; n <= points; n++) {
        kw = NULL;
        qr_alloc_fail_at(n, 0);
        rc = qr_kwtable_new(&kw);
        if (rc == 0)
            rc = set_of(&a, kw, "$x \\Seen $y");
        if (rc == 0)
            rc = set_of(&b, kw, "$z $x");
        if (rc == 0)
            rc = qr_flagset_union(&a, &b);
        if (rc == 0)
            rc = qr_flagset_format(&a, kw, QR_FLAGSET_FORMAT_PARENS, &out);
        CHECK_INT_EQ(rc, QR_ENOMEM);
        CHECK(qr_alloc_failed());
        CHECK(out.ptr == NULL);
        qr_alloc_fail_at(0, 0);
        /* whatever was built is still consistent and formats */
        if (kw != NULL) {
            CHECK_INT_EQ(qr_flagset_format(&a, kw, 0, &out), 0);
            qr_buf_dispose(&out);
        }
        qr_flagset_dispose(&a);
        qr_flagset_dispose(&b);
        qr_kwtable_free(kw);
    }
}

int main(void)
{
    TAP_RUN(test_system_bits);
    TAP_RUN(test_interning_is_case_insensitive_and_keeps_first_spelling);
    TAP_RUN(test_intern_rejects_bad_names);
    TAP_RUN(test_table_grows_past_its_index);
    TAP_RUN(test_format_matches_the_reference);
    TAP_RUN(test_format_rejects_unknown_ids);
    TAP_RUN(test_equality_union_difference);
    TAP_RUN(test_flagset_keyword_cap);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
