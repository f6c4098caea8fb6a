/* The export's frame and timecode columns in C (issue 14): `timecode._scaled_half_up` and
 * `timecode.timecodes_at`, the two loops every segment of every data type goes through.
 *
 * Both are the Python functions' arithmetic, in the same IEEE doubles and exact integers; anything
 * outside what 64-bit integers hold raises OverflowError, and a negative frame ValueError, for the
 * caller to take the Python path (which says what is wrong as it always did).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* 1 with RuntimeError when the list no longer holds `count` items (Python code ran and shortened it). */
static int list_shrank(PyObject *list, Py_ssize_t count) {
    if (PyList_GET_SIZE(list) >= count) return 0;
    PyErr_SetString(PyExc_RuntimeError, "the list changed size while it was read");
    return 1;
}

PyDoc_STRVAR(scaled_half_up_doc,
"scaled_half_up(seconds: list[float], scale: float, near: float) -> (list[int], list[int])\n\n"
"floor(value * scale + 0.5) of every value, and the indexes of those within `near` of a whole\n"
"number, whose exact rounding the caller works out (their entry in the first list is 0).");

static PyObject *scaled_half_up(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "scaled_half_up(seconds: list, scale: float, near: float)");
        return NULL;
    }
    double scale = PyFloat_AsDouble(args[1]), near = PyFloat_AsDouble(args[2]);
    if (PyErr_Occurred()) return NULL;
    PyObject *values = args[0];
    Py_ssize_t count = PyList_GET_SIZE(values);
    PyObject *rounded = PyList_New(count), *close = PyList_New(0);
    if (rounded == NULL || close == NULL) goto failed;
    for (Py_ssize_t index = 0; index < count; index++) {
        /* A __float__ may change the list: held while it runs, and the list's size checked first. */
        if (list_shrank(values, count)) goto failed;
        PyObject *number_object = Py_NewRef(PyList_GET_ITEM(values, index));
        double value = PyFloat_AsDouble(number_object);
        Py_DECREF(number_object);
        if (value == -1.0 && PyErr_Occurred()) goto failed;
        double shifted = value * scale + 0.5;
        double whole = floor(shifted);
        if (!(fabs(whole) < 9.0e18)) {
            PyErr_SetString(PyExc_OverflowError, "a time past what 64 bits count");
            goto failed;
        }
        PyObject *item;
        if (shifted - whole < near || whole + 1 - shifted < near) {
            PyObject *number = PyLong_FromSsize_t(index);
            int appended = number != NULL && PyList_Append(close, number) == 0;
            Py_XDECREF(number);
            if (!appended) goto failed;
            item = PyLong_FromLong(0);
        } else {
            item = PyLong_FromLongLong((long long)whole);
        }
        if (item == NULL) goto failed;
        PyList_SET_ITEM(rounded, index, item);
    }
    PyObject *result = PyTuple_Pack(2, rounded, close);
    Py_DECREF(rounded);
    Py_DECREF(close);
    return result;
failed:
    Py_XDECREF(rounded);
    Py_XDECREF(close);
    return NULL;
}

static void two_digits(char *out, long long value) {
    out[0] = (char)('0' + value / 10);
    out[1] = (char)('0' + value % 10);
}

/* `HH:MM:SS` + separator + `FF` into `out` (room for 40), its length; hours past 99 get more digits,
 * as Python's `{:02d}` gives them. */
static int format_timecode(char *out, long long second, long long frames_in, char separator) {
    long long hours = second / 3600;
    if (hours > 99 || frames_in > 99) {
        return snprintf(out, 40, "%02lld:%02lld:%02lld%c%02lld", hours, second % 3600 / 60, second % 60, separator,
                        frames_in);
    }
    two_digits(out, hours);
    out[2] = ':';
    two_digits(out + 3, second % 3600 / 60);
    out[5] = ':';
    two_digits(out + 6, second % 60);
    out[8] = separator;
    two_digits(out + 9, frames_in);
    return 11;
}

/* The drop-frame count of a frame: the skipped labels added back (`timecode._drop_frame_counter`). */
static long long drop_frame_count(long long frame, long long dropped, long long per_ten_minutes, long long per_minute) {
    long long tens = frame / per_ten_minutes, remainder = frame % per_ten_minutes;
    long long extra = remainder >= dropped ? dropped * ((remainder - dropped) / per_minute) : 0;
    return frame + 9 * dropped * tens + extra;
}

PyDoc_STRVAR(timecodes_at_doc,
"timecodes_at(frames: list[int], base: int, dropped: int, offset: int, separator: str) -> list[str]\n\n"
"The `HH:MM:SS<separator>FF` label of `offset + frame` for every frame, at `base` frames a second,\n"
"with `dropped` labels skipped a minute (0: non-drop).");

static PyObject *timecodes_at(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyList_Check(args[0]) || !PyUnicode_Check(args[4]) || PyUnicode_GET_LENGTH(args[4]) != 1) {
        PyErr_SetString(PyExc_TypeError, "timecodes_at(frames: list, base: int, dropped: int, offset: int, separator: str)");
        return NULL;
    }
    long long base = PyLong_AsLongLong(args[1]), dropped = PyLong_AsLongLong(args[2]);
    long long offset = PyLong_AsLongLong(args[3]);
    if (PyErr_Occurred()) return NULL;
    Py_UCS4 separator = PyUnicode_READ_CHAR(args[4], 0);
    if (base < 1 || base > 1000 || dropped < 0 || dropped >= base || separator > 127) {
        PyErr_SetString(PyExc_ValueError, "timecodes_at: base, dropped or separator out of range");
        return NULL;
    }
    long long per_minute = 60 * base - dropped, per_ten_minutes = 600 * base - 9 * dropped;
    PyObject *frames = args[0];
    Py_ssize_t count = PyList_GET_SIZE(frames);
    PyObject *labels = PyList_New(count);
    if (labels == NULL) return NULL;
    const long long limit = (long long)1 << 52;  /* far past any media, far from overflow below */
    for (Py_ssize_t index = 0; index < count; index++) {
        /* An __index__ may change the list: held while it runs, and the list's size checked first. */
        if (list_shrank(frames, count)) goto failed;
        PyObject *frame_object = Py_NewRef(PyList_GET_ITEM(frames, index));
        long long frame = PyLong_AsLongLong(frame_object);
        Py_DECREF(frame_object);
        if (frame == -1 && PyErr_Occurred()) goto failed;
        if (frame > limit || frame < -limit || offset > limit || offset < -limit) {
            PyErr_SetString(PyExc_OverflowError, "a frame past what this counts");
            goto failed;
        }
        frame += offset;
        if (frame < 0) {
            PyErr_SetString(PyExc_ValueError, "a frame before 00:00:00:00");
            goto failed;
        }
        long long counted = dropped ? drop_frame_count(frame, dropped, per_ten_minutes, per_minute) : frame;
        char text[40];
        int length = format_timecode(text, counted / base, counted % base, (char)separator);
        PyObject *label = PyUnicode_New(length, 127);  /* ASCII: no UTF-8 decoding to do */
        if (label == NULL) goto failed;
        memcpy(PyUnicode_1BYTE_DATA(label), text, (size_t)length);
        PyList_SET_ITEM(labels, index, label);
    }
    return labels;
failed:
    Py_DECREF(labels);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scaled_half_up", (PyCFunction)(void (*)(void))scaled_half_up, METH_FASTCALL, scaled_half_up_doc},
    {"timecodes_at", (PyCFunction)(void (*)(void))timecodes_at, METH_FASTCALL, timecodes_at_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_timecode_native",
    .m_doc = "The export's frame and timecode columns in C (features.create_export.timecode).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__timecode_native(void) { return PyModule_Create(&module); }
