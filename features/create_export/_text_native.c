/* The precheck of the export's text columns in C (issue 14): `text.python_indexes_to_fix`.
 *
 * Nearly every catalog value is already its own EDL name, marker name, XML text and attribute: the
 * writers copy a column and clean only the few texts this finds. The checks are the Python ones,
 * character by character: `str.isascii`, `str.isprintable` (Py_UNICODE_ISPRINTABLE, its own test),
 * no run of two spaces and no space at either end, not empty, no character of `avoid`, the length.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The bits of `checks`, as text.py names them. */
#define CHECK_ASCII 1
#define CHECK_PRINTABLE 2
#define CHECK_ONE_SPACED 4
#define CHECK_NOT_EMPTY 8

static int is_printable(Py_UCS4 ch) {
    /* ASCII without the table look-up: only 0x20..0x7e print. */
    return ch < 128 ? ch >= 0x20 && ch != 0x7f : Py_UNICODE_ISPRINTABLE(ch);
}

/* The bytes a one-byte text must not hold (`bad`), from the checks and `avoid`. */
static void fill_bad_bytes(unsigned char bad[256], PyObject *avoid, long checks) {
    for (int byte = 0; byte < 256; byte++) bad[byte] = (checks & CHECK_PRINTABLE) && !is_printable((Py_UCS4)byte);
    int kind = PyUnicode_KIND(avoid);
    const void *data = PyUnicode_DATA(avoid);
    for (Py_ssize_t index = 0; index < PyUnicode_GET_LENGTH(avoid); index++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, index);
        if (ch < 256) bad[ch] = 1;
    }
}

/* 1 when `text` passes every check, 0 when it is one to fix. `bad`: see fill_bad_bytes. */
static int passes(PyObject *text, PyObject *avoid, Py_ssize_t limit, long checks, const unsigned char bad[256]) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    if (length > limit || ((checks & CHECK_NOT_EMPTY) && length == 0)) return 0;
    if ((checks & CHECK_ASCII) && !PyUnicode_IS_ASCII(text)) return 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int one_spaced = (checks & CHECK_ONE_SPACED) != 0;
    if (one_spaced && length > 0 &&
        (PyUnicode_READ(kind, data, 0) == ' ' || PyUnicode_READ(kind, data, length - 1) == ' ')) {
        return 0;
    }
    if (kind == PyUnicode_1BYTE_KIND) {  /* nearly every catalog value: a table look-up a byte */
        const unsigned char *bytes = PyUnicode_1BYTE_DATA(text);
        for (Py_ssize_t index = 0; index < length; index++) {
            if (bad[bytes[index]] || (one_spaced && bytes[index] == ' ' && index > 0 && bytes[index - 1] == ' ')) {
                return 0;
            }
        }
        return 1;
    }
    int avoid_kind = PyUnicode_KIND(avoid);
    const void *avoid_data = PyUnicode_DATA(avoid);
    Py_ssize_t avoid_length = PyUnicode_GET_LENGTH(avoid);
    Py_UCS4 previous = 0;
    for (Py_ssize_t index = 0; index < length; index++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, index);
        if ((checks & CHECK_PRINTABLE) && !is_printable(ch)) return 0;
        if (one_spaced && ch == ' ' && previous == ' ') return 0;
        for (Py_ssize_t other = 0; other < avoid_length; other++) {
            if (ch == PyUnicode_READ(avoid_kind, avoid_data, other)) return 0;
        }
        previous = ch;
    }
    return 1;
}

PyDoc_STRVAR(indexes_to_fix_doc,
"indexes_to_fix(texts: list[str], start: int, stop: int, avoid: str, limit: int, checks: int) -> list[int]\n\n"
"The positions in [start, stop) of the texts longer than `limit`, holding a character of `avoid`,\n"
"or failing one of the `checks` (bits: 1 ASCII, 2 printable, 4 one-spaced, 8 not empty).");

static PyObject *indexes_to_fix(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6 || !PyList_Check(args[0]) || !PyUnicode_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "indexes_to_fix(texts: list, start: int, stop: int, avoid: str, limit: int, checks: int)");
        return NULL;
    }
    PyObject *texts = args[0], *avoid = args[3];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]), stop = PyLong_AsSsize_t(args[2]);
    Py_ssize_t limit = PyLong_AsSsize_t(args[4]);
    long checks = PyLong_AsLong(args[5]);
    if (PyErr_Occurred()) return NULL;
    Py_ssize_t count = PyList_GET_SIZE(texts);
    if (start < 0) start = 0;
    if (stop > count) stop = count;
    unsigned char bad[256];
    fill_bad_bytes(bad, avoid, checks);
    PyObject *found = PyList_New(0);
    if (found == NULL) return NULL;
    for (Py_ssize_t index = start; index < stop; index++) {
        PyObject *text = PyList_GET_ITEM(texts, index);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "indexes_to_fix: every text must be a str");
            goto failed;
        }
        if (passes(text, avoid, limit, checks, bad)) continue;
        PyObject *number = PyLong_FromSsize_t(index);
        int appended = number != NULL && PyList_Append(found, number) == 0;
        Py_XDECREF(number);
        if (!appended) goto failed;
    }
    return found;
failed:
    Py_DECREF(found);
    return NULL;
}

static PyMethodDef methods[] = {
    {"indexes_to_fix", (PyCFunction)(void (*)(void))indexes_to_fix, METH_FASTCALL, indexes_to_fix_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_text_native",
    .m_doc = "The precheck of the export's text columns in C (features.create_export.text).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__text_native(void) { return PyModule_Create(&module); }
