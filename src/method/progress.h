/* Progress of long operations, reported to whoever drives the workflow
 * (a terminal bar, JSON events, or nothing). */
#ifndef MF_METHOD_PROGRESS_H
#define MF_METHOD_PROGRESS_H

#include <stdint.h>

struct mf_progress {
    /* phase: "upload", "verify", "download", ...; total 0 if unknown. */
    void (*update)(void *ctx, const char *phase, uint64_t done, uint64_t total);
    /* A step worth telling the user about, as one line of text. */
    void (*note)(void *ctx, const char *event, const char *text);
    void *ctx;
};

static inline void mf_progress_update(const struct mf_progress *p, const char *phase, uint64_t done,
                                      uint64_t total)
{
    if (p && p->update)
        p->update(p->ctx, phase, done, total);
}

static inline void mf_progress_note(const struct mf_progress *p, const char *event, const char *text)
{
    if (p && p->note)
        p->note(p->ctx, event, text);
}

#endif
