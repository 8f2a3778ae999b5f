/*
 * lab_alloc: the one allocation layer of every C library in leaklab.
 *
 * Every block the lab's C code allocates goes through these functions, so the
 * lab can count live blocks and bytes exactly (thread-safe, atomic counters)
 * and fail the N-th allocation on request (fault injection, in the manner of
 * SQLite's test allocator).
 *
 * Each block carries a LAB_ALLOC_HEADER-byte header in front of the pointer
 * handed out, holding the requested size. The counters report requested
 * bytes; a heap tool such as valgrind sees requested + LAB_ALLOC_HEADER bytes
 * per block.
 */
#ifndef LEAKLAB_LAB_ALLOC_H
#define LEAKLAB_LAB_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#define LAB_ALLOC_HEADER 16

typedef struct lab_alloc_stats {
    uint64_t live_blocks;   /* blocks allocated and not yet freed */
    uint64_t live_bytes;    /* requested bytes of those blocks */
    uint64_t total_allocs;  /* successful allocations since process start */
    uint64_t failed_allocs; /* allocations refused by fault injection */
} lab_alloc_stats;

void *lab_malloc(size_t size);
void *lab_calloc(size_t count, size_t size);
/* Like realloc: on failure returns NULL and leaves the old block untouched. */
void *lab_realloc(void *ptr, size_t size);
void lab_free(void *ptr);
/* Copies n bytes of s and appends a NUL: one block of n + 1 bytes. */
char *lab_strndup(const char *s, size_t n);
/* The requested size of a live block from this layer (0 for NULL). */
size_t lab_alloc_size(void *ptr);

/* Reads the counters. */
void lab_alloc_stats_get(lab_alloc_stats *out);

/*
 * Fault injection: the nth allocation from now (1 = the very next one) fails
 * and returns NULL. With persistent != 0 every allocation after it fails too.
 * n = 0 switches fault injection off.
 */
void lab_alloc_fail_nth(uint64_t n, int persistent);
/* Allocation attempts still to go before the armed failure, 0 if none is armed. */
uint64_t lab_alloc_fail_pending(void);

#endif
