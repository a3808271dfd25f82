#include "check.h"

int check_failures, check_count;

int check_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_count - check_failures, check_failures);
    if (check_count == 0) {
        /* A test that checked nothing proves nothing: it returned early or
         * its checks were compiled out. */
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    return check_failures ? 1 : 0;
}
