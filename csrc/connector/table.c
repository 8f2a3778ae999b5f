/* table.c: rows of the people table in a growable array. */
#include "table.h"

#include <string.h>

#include <stdlib.h>

#include "bytes.h"

const lc_column lc_columns[LC_COLUMN_COUNT] = {
    {"name", 4, LC_TYPE_TEXT},
    {"age", 3, LC_TYPE_INT},
    {"score", 5, LC_TYPE_DOUBLE},
};

static const struct {
    const char *name;
    int64_t age;
    double score;
} seed[LC_SEED_ROWS] = {
    {"alice", 34, 81.50}, {"bob", 27, 64.25}, {"carol", 45, 92.75},
    {"dave", 19, 55.00},  {"eve", 38, 73.10},
};

unsigned int lc_table_seed(lc_table *t)
{
    for (size_t i = 0; i < LC_SEED_ROWS; i++) {
        unsigned int rc = lc_table_append(t, seed[i].name, strlen(seed[i].name), seed[i].age,
                                          seed[i].score);
        if (rc != LC_OK) {
            lc_table_free(t);
            return rc;
        }
    }
    return LC_OK;
}

unsigned int lc_table_append(lc_table *t, const char *name, size_t name_len, int64_t age,
                             double score)
{
    /* Row numbers travel as uint32_t in pending selections. */
    if (t->count >= UINT32_MAX)
        return LC_CR_OUT_OF_MEMORY;
    if (t->count == t->capacity) {
        size_t cap = t->capacity == 0 ? 8 : t->capacity * 2;
        lc_person *rows = realloc(t->rows, cap * sizeof *rows);
        if (rows == NULL)
            return LC_CR_OUT_OF_MEMORY;
        t->rows = rows;
        t->capacity = cap;
    }
    char *copy = lc_copy_bytes(name, name_len);
    if (copy == NULL)
        return LC_CR_OUT_OF_MEMORY;
    lc_person *row = &t->rows[t->count++];
    row->name = copy;
    row->name_len = name_len;
    row->age = age;
    row->score = score;
    return LC_OK;
}

uint64_t lc_table_remove_if(lc_table *t, int (*drop)(const lc_person *row, const void *ctx),
                            const void *ctx)
{
    size_t kept = 0;
    uint64_t removed = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (drop(&t->rows[i], ctx)) {
            free(t->rows[i].name);
            removed++;
        } else {
            t->rows[kept++] = t->rows[i];
        }
    }
    t->count = kept;
    return removed;
}

void lc_table_free(lc_table *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->rows[i].name);
    free(t->rows);
    t->rows = NULL;
    t->count = 0;
    t->capacity = 0;
}
