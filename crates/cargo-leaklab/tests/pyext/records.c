/* A CPython extension module `records` that leaks a Python object by a
 * reference too many.
 *
 * keep_record(payload) copies one request's payload (bytes) into a new
 * bytes object, takes one reference too many on it (the Py_INCREF marked
 * LEAK) and returns it: when the caller drops it, its count stays at 1
 * and the object is never freed.
 *
 * The truth, by construction: each call leaks one bytes object of
 * len(payload) bytes, made on the line marked ALLOC: one malloc block of
 * offsetof(PyBytesObject, ob_sval) + len(payload) + 1 bytes
 * (PyBytes_FromStringAndSize's allocation, which is what sys.getsizeof
 * reports for it): 33 + 200 = 233 bytes for a 200-byte payload on a
 * 64-bit CPython. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *keep_record(PyObject *self, PyObject *payload)
{
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "a payload is bytes");
        return NULL;
    }
    const char *data = PyBytes_AS_STRING(payload);
    PyObject *record = PyBytes_FromStringAndSize(data, PyBytes_GET_SIZE(payload)); /* ALLOC */
    if (record == NULL)
        return NULL;
    Py_INCREF(record); /* LEAK: a reference nobody owns */
    return record;
}

static PyMethodDef methods[] = {
    {"keep_record", keep_record, METH_O, "Copies a payload; leaks the copy."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "records", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit_records(void) { return PyModule_Create(&module); }
