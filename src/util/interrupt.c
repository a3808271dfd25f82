#include "util/interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
    if (caught) {
        /* Asked twice: stop now, as the default action would. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    caught = sig;
}

void mf_interrupt_catch(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int mf_interrupted(void)
{
    return caught;
}

int mf_interrupt_check(struct mf_err *err)
{
    if (!caught)
        return 0;
    return mf_fail(err, MF_E_INTERRUPTED, "Stopped on request (%s).", caught == SIGTERM ? "SIGTERM" : "Ctrl-C");
}
