/* Minimal assertions for unit tests: each failed CHECK prints where and why,
 * and the test's exit status is non-zero if any failed. */
#ifndef MF_TEST_CHECK_H
#define MF_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

extern int check_failures, check_count;

#define CHECK(cond) \
    do { check_count++; if (!(cond)) { check_failures++; \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ(a, b) \
    do { long long va_ = (long long)(a), vb_ = (long long)(b); check_count++; if (va_ != vb_) { \
        check_failures++; fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, expected %s == %lld\n", \
        __FILE__, __LINE__, #a, va_, #b, vb_); } } while (0)
#define CHECK_STR(a, b) \
    do { const char *sa_ = (a), *sb_ = (b); check_count++; if (!sa_ || !sb_ || strcmp(sa_, sb_)) { \
        check_failures++; fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", \
        __FILE__, __LINE__, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); } } while (0)
#define CHECK_MEM(a, b, n) \
    do { check_count++; if (memcmp((a), (b), (n))) { check_failures++; \
        fprintf(stderr, "%s:%d: CHECK_MEM failed: %s vs %s\n", __FILE__, __LINE__, #a, #b); } } while (0)

/* Print "N passed, N failed" and return the exit status for main(): a
 * failure if any check failed or none ran. */
int check_report(const char *name);

#endif
