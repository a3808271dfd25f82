/* The check helper itself: a test with a failed check, or with no checks at
 * all, reports failure. */
#include "check.h"

static int report_with(int count, int failures)
{
    int saved_count = check_count, saved_failures = check_failures;
    check_count = count;
    check_failures = failures;
    int rc = check_report("(inner)");
    check_count = saved_count;
    check_failures = saved_failures;
    return rc;
}

int main(void)
{
    CHECK_EQ(report_with(0, 0), 1);
    CHECK_EQ(report_with(3, 0), 0);
    CHECK_EQ(report_with(3, 1), 1);
    return check_report("test_check");
}
