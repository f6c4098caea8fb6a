/* The catalog's events put in (start, id) order in C (issue 14): what `shared.fabric.order_by_start`
 * does in Python, without a Python call or a key object per event.
 *
 * After the last catalog batch arrives, the first file waits for this: ordering 127,000 events by
 * start and id and finding the runs of equal starts took 100-115 ms of Python (a key function call
 * per event, then a list of starts and a comparison per pair), 45-65 ms here, most of it waiting on
 * memory for events read in sorted order. The Python code stays as the definition and the
 * fallback, and the tests compare the two.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* One event with its sort key: its start, its id, and its place in the input (a last tie-break, so
 * the order is total and equals Python's stable sort even for equal (start, id)). */
typedef struct {
    double start;
    PyObject *id;
    PyObject *event;
    Py_ssize_t position;
} Keyed;

/* Two str in Python's order (code point by code point, then the shorter first), without the GIL:
 * only their (immutable, held) contents are read. */
static int compare_text(PyObject *a, PyObject *b) {
    Py_ssize_t length_a = PyUnicode_GET_LENGTH(a), length_b = PyUnicode_GET_LENGTH(b);
    Py_ssize_t shorter = length_a < length_b ? length_a : length_b;
    int kind_a = PyUnicode_KIND(a), kind_b = PyUnicode_KIND(b);
    const void *data_a = PyUnicode_DATA(a), *data_b = PyUnicode_DATA(b);
    if (kind_a == PyUnicode_1BYTE_KIND && kind_b == PyUnicode_1BYTE_KIND) {
        int order = memcmp(data_a, data_b, (size_t)shorter);
        if (order != 0) return order < 0 ? -1 : 1;
    } else {
        for (Py_ssize_t index = 0; index < shorter; index++) {
            Py_UCS4 code_a = PyUnicode_READ(kind_a, data_a, index), code_b = PyUnicode_READ(kind_b, data_b, index);
            if (code_a != code_b) return code_a < code_b ? -1 : 1;
        }
    }
    return (length_a > length_b) - (length_a < length_b);
}

static int compare_keyed(const void *left, const void *right) {
    const Keyed *a = left, *b = right;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    int order = compare_text(a->id, b->id);
    if (order != 0) return order;
    return (a->position > b->position) - (a->position < b->position);
}

/* Work done in C holds the GIL throughout, and reading the keys of 127,000 events took ~40 ms of it
 * (scattered objects): every YIELD_STEP events the GIL is let go, so a thread waiting for it (the event loop,
 * answering `/status`) takes its turn, as it would between the bytecodes of the Python version. */
enum { YIELD_STEP = 4096 };

static void yield_gil(Py_ssize_t index) {
    if (index % YIELD_STEP == YIELD_STEP - 1) {
        Py_BEGIN_ALLOW_THREADS
        Py_END_ALLOW_THREADS
    }
}

/* The event's start (a finite float) and id (a str) into `keyed` (which takes a reference to the
 * id); -1 with an error set when they are not what the order needs. */
static int read_key(PyObject *event, Py_ssize_t position, PyObject *start_name, PyObject *id_name, Keyed *keyed) {
    PyObject *start = PyObject_GetAttr(event, start_name);
    if (start == NULL) return -1;
    int is_float = PyFloat_CheckExact(start);
    double seconds = is_float ? PyFloat_AS_DOUBLE(start) : 0.0;
    Py_DECREF(start);
    /* NaN would make the comparison inconsistent, which qsort must never be given. */
    if (!is_float || !isfinite(seconds)) {
        PyErr_SetString(PyExc_TypeError, "order_by_start: an event's start is not a finite float");
        return -1;
    }
    PyObject *id = PyObject_GetAttr(event, id_name);
    if (id == NULL) return -1;
    if (!PyUnicode_CheckExact(id) || PyUnicode_READY(id) < 0) {
        Py_DECREF(id);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "order_by_start: an event's id is not a str");
        return -1;
    }
    keyed->start = seconds;
    keyed->id = id;
    keyed->position = position;
    return 0;
}

/* The [low, high) runs of equal starts in the sorted keys, as a list of (low, high) tuples. */
static PyObject *tie_runs(const Keyed *keyed, Py_ssize_t count) {
    PyObject *runs = PyList_New(0);
    if (runs == NULL) return NULL;
    Py_ssize_t low = 0;
    while (low < count) {
        Py_ssize_t high = low + 1;
        while (high < count && keyed[high].start == keyed[low].start) high++;
        if (high - low > 1) {
            PyObject *run = Py_BuildValue("(nn)", low, high);
            if (run == NULL || PyList_Append(runs, run) < 0) {
                Py_XDECREF(run);
                Py_DECREF(runs);
                return NULL;
            }
            Py_DECREF(run);
        }
        low = high;
    }
    return runs;
}

/* A new list of the sorted events (the references `keyed` holds move into it). */
static PyObject *ordered_list(Keyed *keyed, Py_ssize_t count) {
    PyObject *events = PyList_New(count);
    if (events == NULL) return NULL;
    for (Py_ssize_t index = 0; index < count; index++) {
        PyList_SET_ITEM(events, index, keyed[index].event);
        keyed[index].event = NULL;
    }
    return events;
}

PyDoc_STRVAR(order_by_start_doc,
"order_by_start(runs: list[list[event]]) -> (events: list, ties: list[tuple[int, int]])\n\n"
"Every event of the lists in one new list ordered by (start, id) (a start must be a finite float,\n"
"an id a str), equal keys kept in input order; and the [low, high) ranges of that list whose events\n"
"share a start.");

static PyObject *order_by_start(PyObject *module, PyObject *runs) {
    if (!PyList_CheckExact(runs)) {
        PyErr_SetString(PyExc_TypeError, "order_by_start: runs must be a list of lists");
        return NULL;
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t index = 0; index < PyList_GET_SIZE(runs); index++) {
        PyObject *run = PyList_GET_ITEM(runs, index);
        if (!PyList_CheckExact(run)) {
            PyErr_SetString(PyExc_TypeError, "order_by_start: runs must be a list of lists");
            return NULL;
        }
        total += PyList_GET_SIZE(run);
    }
    PyObject *start_name = PyUnicode_InternFromString("start");
    PyObject *id_name = PyUnicode_InternFromString("id");
    Keyed *keyed = PyMem_Calloc(total > 0 ? (size_t)total : 1, sizeof(Keyed));
    PyObject *result = NULL, *events = NULL, *ties = NULL;
    Py_ssize_t filled = 0;
    if (start_name == NULL || id_name == NULL || keyed == NULL) {
        if (keyed == NULL) PyErr_NoMemory();
        goto done;
    }
    /* Every event is held first (no Python code runs meanwhile); then reading an attribute, which
     * may run Python code that changes a list, cannot free what is being read. */
    for (Py_ssize_t index = 0; index < PyList_GET_SIZE(runs) && filled < total; index++) {
        PyObject *run = PyList_GET_ITEM(runs, index);
        for (Py_ssize_t item = 0; item < PyList_GET_SIZE(run) && filled < total; item++) {
            keyed[filled++].event = Py_NewRef(PyList_GET_ITEM(run, item));
        }
    }
    for (Py_ssize_t index = 0; index < filled; index++) {
        if (read_key(keyed[index].event, index, start_name, id_name, &keyed[index]) < 0) goto done;
        yield_gil(index);
    }
    /* The keys are doubles and held str: the sort needs no Python, and lets others run. */
    Py_BEGIN_ALLOW_THREADS
    qsort(keyed, (size_t)filled, sizeof(Keyed), compare_keyed);
    Py_END_ALLOW_THREADS
    ties = tie_runs(keyed, filled);
    if (ties == NULL) goto done;
    events = ordered_list(keyed, filled);
    if (events == NULL) goto done;
    result = PyTuple_Pack(2, events, ties);
done:
    for (Py_ssize_t index = 0; keyed != NULL && index < filled; index++) {
        Py_XDECREF(keyed[index].event);
        Py_XDECREF(keyed[index].id);
    }
    PyMem_Free(keyed);
    Py_XDECREF(events);
    Py_XDECREF(ties);
    Py_XDECREF(start_name);
    Py_XDECREF(id_name);
    return result;
}

static PyMethodDef methods[] = {
    {"order_by_start", order_by_start, METH_O, order_by_start_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_event_order_native",
    .m_doc = "The catalog's events ordered by start and id, in C (shared.fabric).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__event_order_native(void) { return PyModule_Create(&module); }
