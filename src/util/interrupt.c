#include "util/interrupt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t caught, say_it;

static void say(const char *text)
{
    if (say_it) {
        ssize_t n = write(STDERR_FILENO, text, strlen(text)); /* async-signal-safe */
        (void)n;
    }
}

static void on_signal(int sig)
{
    if (caught) {
        /* Asked twice: stop now, as the default action would. */
        say("\nmcuflash: stopped at once; the board or its card may be left part-way: run the same command "
            "again.\n");
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    caught = sig;
    say("\nmcuflash: stopping at the next safe point (a second Ctrl-C stops at once, which can leave the board "
        "part-way).\n");
}

void mf_interrupt_catch(bool announce)
{
    say_it = announce;
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
