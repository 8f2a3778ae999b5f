/* result.h: building LC_RES blocks with the documented memory layout. */
#ifndef LEAKLAB_CONNECTOR_RESULT_H
#define LEAKLAB_CONNECTOR_RESULT_H

#include <stdint.h>

#include "connector.h"
#include "errors.h"
#include "table.h"

/* LC_RES + fields block only (row_count 0, rows NULL). NULL when out of memory. */
LC_RES *lc_result_metadata(const unsigned int *cols, unsigned int ncols);

/*
 * The full result of the selected rows (row numbers into t) and columns.
 * Runs handle's row callback per row if with_callback. On failure returns
 * NULL with fail set (out of memory or interrupted); nothing built is kept
 * except, with handle->compat_float_leak, the leaked DOUBLE buffers.
 */
LC_RES *lc_result_build(LC *handle, const lc_table *t, const unsigned int *cols,
                        unsigned int ncols, const uint32_t *rows, uint64_t nrows,
                        int with_callback, lc_fail *fail);

#endif
