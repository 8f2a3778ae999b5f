/* A database connector's row fetch, as a CPython extension module `rows`.
 *
 * fetch_row(row) takes one request's row (a tuple of str columns), lays it
 * out in a result buffer of CELL_BYTES per column and returns a checksum
 * of the buffer. fetch_row leaks that buffer; fetch_row_freed, its twin,
 * does the same work and frees it.
 *
 * The truth, by construction: each fetch_row call leaks one block of
 * len(row) * CELL_BYTES bytes, allocated on the line marked LEAK below.
 * A row of 7 columns leaks 7 * 64 = 448 bytes per call. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of result buffer per column. */
#define CELL_BYTES 64

/* The row's columns copied into `buf`, one cell each (cut or padded to
 * CELL_BYTES); the checksum of the buffer, or -1 with an exception set. */
static long long layout(PyObject *row, unsigned char *buf, Py_ssize_t cols)
{
    for (Py_ssize_t i = 0; i < cols; i++) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(row, i), &len);
        if (s == NULL)
            return -1;
        unsigned char *cell = buf + i * CELL_BYTES;
        memset(cell, 0, CELL_BYTES);
        memcpy(cell, s, len < CELL_BYTES ? len : CELL_BYTES);
    }
    long long sum = 0;
    for (Py_ssize_t i = 0; i < cols * CELL_BYTES; i++)
        sum = sum * 31 + buf[i];
    return sum & 0x7fffffffffffLL;
}

static Py_ssize_t columns(PyObject *row)
{
    if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) == 0) {
        PyErr_SetString(PyExc_TypeError, "a row is a non-empty tuple of str");
        return -1;
    }
    return PyTuple_GET_SIZE(row);
}

/* Leaks its result buffer: len(row) * CELL_BYTES bytes per call. */
static PyObject *fetch_row(PyObject *self, PyObject *row)
{
    Py_ssize_t cols = columns(row);
    if (cols < 0)
        return NULL;
    unsigned char *buf = malloc(cols * CELL_BYTES); /* LEAK */
    if (buf == NULL)
        return PyErr_NoMemory();
    long long sum = layout(row, buf, cols);
    if (sum < 0)
        return NULL;
    return PyLong_FromLongLong(sum);
}

/* fetch_row's twin: the same work, and the buffer freed. */
static PyObject *fetch_row_freed(PyObject *self, PyObject *row)
{
    Py_ssize_t cols = columns(row);
    if (cols < 0)
        return NULL;
    unsigned char *buf = malloc(cols * CELL_BYTES);
    if (buf == NULL)
        return PyErr_NoMemory();
    long long sum = layout(row, buf, cols);
    free(buf);
    if (sum < 0)
        return NULL;
    return PyLong_FromLongLong(sum);
}

static PyMethodDef methods[] = {
    {"fetch_row", fetch_row, METH_O, "Lays out a row; leaks its buffer."},
    {"fetch_row_freed", fetch_row_freed, METH_O, "Lays out a row; frees its buffer."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "rows", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit_rows(void) { return PyModule_Create(&module); }
