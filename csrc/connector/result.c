/* result.c: LC_RES building, fetching and freeing. */
#include "result.h"

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "bytes.h"

LC_RES *lc_result_metadata(const unsigned int *cols, unsigned int ncols)
{
    LC_RES *res = malloc(sizeof *res);
    if (res == NULL)
        return NULL;
    memset(res, 0, sizeof *res);
    res->field_count = ncols;
    res->fields = malloc(ncols * sizeof *res->fields);
    if (res->fields == NULL) {
        free(res);
        return NULL;
    }
    for (unsigned int i = 0; i < ncols; i++) {
        const lc_column *c = &lc_columns[cols[i]];
        res->fields[i].name = c->name;
        res->fields[i].name_length = c->name_len;
        res->fields[i].type = c->type;
    }
    return res;
}

/* Frees the DOUBLE formatting buffers, unless BUG#29909157 is being reproduced. */
static void drop_buffers(char **bufs, unsigned int n, int leak)
{
    for (unsigned int i = 0; i < n; i++) {
        if (!leak)
            free(bufs[i]);
        bufs[i] = NULL;
    }
}

/*
 * One row block: value pointers, then lengths, then the NUL-terminated values.
 * DOUBLE values are formatted into a malloc'd LC_DOUBLE_BUF_SIZE buffer
 * (so "%.2f" text is cut to LC_DOUBLE_BUF_SIZE - 1 bytes), copied, then freed.
 */
static LC_ROW build_row(const lc_person *p, const unsigned int *cols, unsigned int n,
                        int compat_float_leak)
{
    char ints[LC_MAX_SELECT_COLUMNS][24];
    char *bufs[LC_MAX_SELECT_COLUMNS] = {0};
    const char *src[LC_MAX_SELECT_COLUMNS];
    size_t lens[LC_MAX_SELECT_COLUMNS];
    size_t total = n * (sizeof(char *) + sizeof(unsigned long));

    for (unsigned int i = 0; i < n; i++) {
        int w;
        switch (lc_columns[cols[i]].type) {
        case LC_TYPE_TEXT:
            src[i] = p->name;
            lens[i] = p->name_len;
            break;
        case LC_TYPE_INT:
            w = snprintf(ints[i], sizeof ints[i], "%lld", (long long)p->age);
            src[i] = ints[i];
            lens[i] = w > 0 ? (size_t)w : 0;
            break;
        case LC_TYPE_DOUBLE:
            bufs[i] = malloc(LC_DOUBLE_BUF_SIZE);
            if (bufs[i] == NULL) {
                drop_buffers(bufs, i, compat_float_leak);
                return NULL;
            }
            w = snprintf(bufs[i], LC_DOUBLE_BUF_SIZE, "%.2f", p->score);
            if (w < 0)
                w = 0;
            if (w > LC_DOUBLE_BUF_SIZE - 1)
                w = LC_DOUBLE_BUF_SIZE - 1;
            src[i] = bufs[i];
            lens[i] = (size_t)w;
            break;
        }
        total += lens[i] + 1;
    }

    char *block = malloc(total);
    if (block == NULL) {
        drop_buffers(bufs, n, compat_float_leak);
        return NULL;
    }
    LC_ROW values = (LC_ROW)block;
    unsigned long *lengths = (unsigned long *)(block + n * sizeof(char *));
    char *data = block + n * (sizeof(char *) + sizeof(unsigned long));
    for (unsigned int i = 0; i < n; i++) {
        values[i] = data;
        lengths[i] = (unsigned long)lens[i];
        if (lens[i] != 0)
            memcpy(data, src[i], lens[i]);
        data[lens[i]] = '\0';
        data += lens[i] + 1;
    }
    drop_buffers(bufs, n, compat_float_leak);
    return values;
}

LC_RES *lc_result_build(LC *handle, const lc_table *t, const unsigned int *cols,
                        unsigned int ncols, const uint32_t *rows, uint64_t nrows,
                        int with_callback, lc_fail *fail)
{
    LC_RES *res = lc_result_metadata(cols, ncols);
    if (res == NULL)
        goto oom;
    if (nrows > 0) {
        res->rows = calloc((size_t)nrows, sizeof *res->rows);
        if (res->rows == NULL)
            goto oom;
        res->row_count = nrows; /* unbuilt entries stay NULL for lc_free_result */
    }
    for (uint64_t r = 0; r < nrows; r++) {
        res->rows[r] = build_row(&t->rows[rows[r]], cols, ncols, handle->compat_float_leak);
        if (res->rows[r] == NULL)
            goto oom;
        if (with_callback && handle->row_callback != NULL) {
            const unsigned long *lengths = (const unsigned long *)(res->rows[r] + ncols);
            if (handle->row_callback(handle->row_callback_data, ncols, res->rows[r], lengths) != 0) {
                lc_free_result(res);
                lc_fail_code(fail, LC_ER_QUERY_INTERRUPTED);
                return NULL;
            }
        }
    }
    lc_fail_code(fail, LC_OK);
    return res;
oom:
    lc_free_result(res);
    lc_fail_code(fail, LC_CR_OUT_OF_MEMORY);
    return NULL;
}

void lc_free_result(LC_RES *result)
{
    if (result == NULL)
        return;
    if (result->rows != NULL)
        for (uint64_t r = 0; r < result->row_count; r++)
            free(result->rows[r]);
    free(result->rows);
    free(result->fields);
    free(result);
}

LC_ROW lc_fetch_row(LC_RES *result)
{
    if (result == NULL)
        return NULL;
    if (result->cursor >= result->row_count || result->rows == NULL) {
        result->current_lengths = NULL;
        return NULL;
    }
    LC_ROW row = result->rows[result->cursor++];
    result->current_lengths = (unsigned long *)(row + result->field_count);
    return row;
}

unsigned long *lc_fetch_lengths(LC_RES *result)
{
    return result != NULL ? result->current_lengths : NULL;
}

uint64_t lc_num_rows(const LC_RES *result) { return result != NULL ? result->row_count : 0; }

unsigned int lc_num_fields(const LC_RES *result)
{
    return result != NULL ? result->field_count : 0;
}

const LC_FIELD *lc_fetch_field_direct(const LC_RES *result, unsigned int index)
{
    if (result == NULL || index >= result->field_count)
        return NULL;
    return &result->fields[index];
}
