/*
 * lab_alloc: counting, fault-injecting allocator (see lab_alloc.h).
 *
 * Block layout: [ size_t requested size | padding ][ user bytes ... ]
 *               <------ LAB_ALLOC_HEADER ------->^ pointer handed out
 *
 * Every call of lab_malloc, lab_calloc, lab_realloc and lab_strndup is one
 * allocation attempt for fault injection. A size of 0 gives a valid 0-byte
 * block (lab_realloc(p, 0) resizes, it does not free). A request whose size
 * overflows (count * size, or size + header) returns NULL without being an
 * injected failure.
 */
#include "lab_alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(LAB_ALLOC_HEADER >= sizeof(size_t), "header holds the size");

static atomic_uint_fast64_t live_blocks;
static atomic_uint_fast64_t live_bytes;
static atomic_uint_fast64_t total_allocs;
static atomic_uint_fast64_t failed_allocs;

static atomic_uint_fast64_t fail_countdown; /* 0: nothing armed */
static atomic_int fail_persistent;          /* keep failing once triggered */
static atomic_int fail_stuck;               /* a persistent failure triggered */

/* One allocation attempt: returns 1 if fault injection refuses it. */
static int injected_failure(void)
{
    if (atomic_load(&fail_stuck)) {
        atomic_fetch_add(&failed_allocs, 1);
        return 1;
    }
    uint_fast64_t c = atomic_load(&fail_countdown);
    while (c != 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1)) {
            if (c != 1)
                return 0;
            if (atomic_load(&fail_persistent))
                atomic_store(&fail_stuck, 1);
            atomic_fetch_add(&failed_allocs, 1);
            return 1;
        }
    }
    return 0;
}

static void *to_user(unsigned char *base) { return base + LAB_ALLOC_HEADER; }
static unsigned char *to_base(void *p) { return (unsigned char *)p - LAB_ALLOC_HEADER; }

static size_t stored_size(const unsigned char *base)
{
    size_t size;
    memcpy(&size, base, sizeof size);
    return size;
}

static void count_new(unsigned char *base, size_t size)
{
    memcpy(base, &size, sizeof size);
    atomic_fetch_add(&live_blocks, 1);
    atomic_fetch_add(&live_bytes, size);
    atomic_fetch_add(&total_allocs, 1);
}

void *lab_malloc(size_t size)
{
    if (size > SIZE_MAX - LAB_ALLOC_HEADER)
        return NULL;
    if (injected_failure())
        return NULL;
    unsigned char *base = malloc(LAB_ALLOC_HEADER + size);
    if (base == NULL)
        return NULL;
    count_new(base, size);
    return to_user(base);
}

void *lab_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = lab_malloc(count * size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

void *lab_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return lab_malloc(size);
    if (size > SIZE_MAX - LAB_ALLOC_HEADER)
        return NULL;
    if (injected_failure())
        return NULL;
    unsigned char *old = to_base(ptr);
    size_t old_size = stored_size(old);
    unsigned char *base = realloc(old, LAB_ALLOC_HEADER + size);
    if (base == NULL)
        return NULL;
    memcpy(base, &size, sizeof size);
    atomic_fetch_sub(&live_bytes, old_size);
    atomic_fetch_add(&live_bytes, size);
    atomic_fetch_add(&total_allocs, 1);
    return to_user(base);
}

void lab_free(void *ptr)
{
    if (ptr == NULL)
        return;
    unsigned char *base = to_base(ptr);
    atomic_fetch_sub(&live_bytes, stored_size(base));
    atomic_fetch_sub(&live_blocks, 1);
    free(base);
}

char *lab_strndup(const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = lab_malloc(n + 1);
    if (p == NULL)
        return NULL;
    if (n != 0)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t lab_alloc_size(void *ptr)
{
    if (ptr == NULL)
        return 0;
    return stored_size(to_base(ptr));
}

void lab_alloc_stats_get(lab_alloc_stats *out)
{
    if (out == NULL)
        return;
    out->live_blocks = atomic_load(&live_blocks);
    out->live_bytes = atomic_load(&live_bytes);
    out->total_allocs = atomic_load(&total_allocs);
    out->failed_allocs = atomic_load(&failed_allocs);
}

void lab_alloc_fail_nth(uint64_t n, int persistent)
{
    atomic_store(&fail_countdown, 0);
    atomic_store(&fail_stuck, 0);
    atomic_store(&fail_persistent, persistent != 0);
    atomic_store(&fail_countdown, n);
}

uint64_t lab_alloc_fail_pending(void)
{
    return atomic_load(&fail_countdown);
}
