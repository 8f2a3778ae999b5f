/*
 * The self test's view of the connector's heap: the link wraps malloc,
 * calloc, realloc and free (ld --wrap, see run.sh), so every call the
 * connector's objects make is counted here and can be made to fail. The
 * blocks are the C library's own (no header); sizes live in a side table.
 */
#ifndef LEAKLAB_SELFTEST_ALLOC_H
#define LEAKLAB_SELFTEST_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef struct selftest_alloc_stats {
    uint64_t live_blocks;   /* blocks allocated and not yet freed */
    uint64_t live_bytes;    /* requested bytes of those blocks */
    uint64_t total_allocs;  /* successful allocations */
    uint64_t failed_allocs; /* allocations refused by fault injection */
} selftest_alloc_stats;

void selftest_alloc_stats_get(selftest_alloc_stats *out);
/* The nth allocation from now (1 = the next) fails; with persistent != 0
 * every later one too; n = 0 switches it off. */
void selftest_alloc_fail_nth(uint64_t n, int persistent);
/* Attempts still to go before the armed failure, 0 if none is armed. */
uint64_t selftest_alloc_fail_pending(void);

#endif
