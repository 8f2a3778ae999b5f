/* table.h: the in-memory people(name TEXT, age INT, score DOUBLE) table. */
#ifndef LEAKLAB_CONNECTOR_TABLE_H
#define LEAKLAB_CONNECTOR_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "connector.h"

typedef struct lc_person {
    char *name;        /* malloc'd, name_len + 1 bytes (NUL-terminated, may hold NULs) */
    size_t name_len;
    int64_t age;
    double score;
} lc_person;

typedef struct lc_table {
    lc_person *rows;   /* growable array, insertion order */
    size_t count;
    size_t capacity;
} lc_table;

/* Column metadata of the table, in order: name, age, score. */
#define LC_COLUMN_COUNT 3
typedef struct lc_column {
    const char *name;
    size_t name_len;
    lc_field_type type;
} lc_column;
extern const lc_column lc_columns[LC_COLUMN_COUNT];

/* Fills an empty table with the LC_SEED_ROWS seed rows. LC_OK or LC_CR_OUT_OF_MEMORY (table left empty). */
unsigned int lc_table_seed(lc_table *t);
/* Appends a copy of the row. LC_OK or LC_CR_OUT_OF_MEMORY (table unchanged). */
unsigned int lc_table_append(lc_table *t, const char *name, size_t name_len, int64_t age,
                             double score);
/* Removes the rows for which drop() returns non-zero, keeps the order; returns how many went. */
uint64_t lc_table_remove_if(lc_table *t, int (*drop)(const lc_person *row, const void *ctx),
                            const void *ctx);
void lc_table_free(lc_table *t);

#endif
