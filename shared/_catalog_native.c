/* The catalog read's clean path in C (issue 14): one raw batch of BSON documents → the events of
 * the documents that need no repair, without building a dict of every field first.
 *
 * `shared.fabric._clean_event` is the definition; this is the same test over the document's bytes.
 * A document passes when `_id` is an ObjectId, `sdnaEventType` and `eventValue` are strings with
 * something besides whitespace, `start` and `end` are doubles with 0 <= start <= end < inf,
 * `confidenceScore` is missing, null or a finite double, and `positions` is missing or null. Every
 * other document (and any this scanner does not fully understand) is handed back by offset and length,
 * for PyMongo to decode and `_repair` to judge, so nothing is decided here that Python would decide
 * otherwise. As in a decoded dict, the last of two equal keys wins.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { FIELD_ID, FIELD_TYPE, FIELD_VALUE, FIELD_START, FIELD_END, FIELD_CONFIDENCE, FIELD_SOURCE,
       FIELD_POSITIONS, FIELD_FULL_PATH, FIELD_COUNT };

static const char *const FIELD_NAMES[FIELD_COUNT] = {
    "_id", "sdnaEventType", "eventValue", "start", "end", "confidenceScore", "source", "positions",
    "fullPath",
};

/* One element of a document: its BSON type and where its value starts; type 0 when absent. */
typedef struct {
    unsigned char type;
    const unsigned char *value;
    int32_t size;
} Element;

static int32_t read_int32(const unsigned char *at) {
    uint32_t value = (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
    return (int32_t)value;
}

static double read_double(const unsigned char *at) {
    uint64_t bits = 0;
    for (int shift = 0; shift < 8; shift++) bits |= (uint64_t)at[shift] << (8 * shift);
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* The size of the value of an element of `type` starting at `at` (`left` bytes remain), or -1 for a
 * type this scanner does not know or a value that overruns the document. */
static Py_ssize_t value_size(unsigned char type, const unsigned char *at, Py_ssize_t left) {
    Py_ssize_t size;
    switch (type) {
    case 0x06: case 0x0A: case 0x7F: case 0xFF:  /* undefined, null, max key, min key */
        return 0;
    case 0x08:  /* boolean */
        size = 1;
        break;
    case 0x10:  /* int32 */
        size = 4;
        break;
    case 0x01: case 0x09: case 0x11: case 0x12:  /* double, date, timestamp, int64 */
        size = 8;
        break;
    case 0x07:  /* ObjectId */
        size = 12;
        break;
    case 0x13:  /* decimal128 */
        size = 16;
        break;
    case 0x02: case 0x0D: case 0x0E:  /* string, code, symbol: length, bytes, NUL */
        if (left < 4) return -1;
        size = 4 + (Py_ssize_t)read_int32(at);
        if (size < 5) return -1;
        break;
    case 0x03: case 0x04: case 0x0F:  /* document, array, code with scope: length includes itself */
        if (left < 4) return -1;
        size = read_int32(at);
        if (size < 5) return -1;
        break;
    case 0x05:  /* binary: length, subtype, bytes */
        if (left < 4) return -1;
        size = 5 + (Py_ssize_t)read_int32(at);
        if (size < 5) return -1;
        break;
    case 0x0C:  /* DB pointer: a string, then an ObjectId */
        if (left < 4) return -1;
        size = 4 + (Py_ssize_t)read_int32(at) + 12;
        if (size < 17) return -1;
        break;
    case 0x0B: {  /* regex: pattern and options, two C strings */
        const unsigned char *pattern_end = memchr(at, 0, (size_t)left);
        if (pattern_end == NULL) return -1;
        const unsigned char *options_end = memchr(pattern_end + 1, 0, (size_t)(left - (pattern_end + 1 - at)));
        if (options_end == NULL) return -1;
        size = options_end + 1 - at;
        break;
    }
    default:  /* anything newer: PyMongo decides */
        return -1;
    }
    return size <= left ? size : -1;
}

static int field_of(const char *key, size_t length) {
    for (int field = 0; field < FIELD_COUNT; field++) {
        if (strlen(FIELD_NAMES[field]) == length && memcmp(FIELD_NAMES[field], key, length) == 0) return field;
    }
    return -1;
}

/* The document's elements that `_clean_event` reads, 1 when it could be walked to its end. */
static int find_fields(const unsigned char *document, int32_t length, Element fields[FIELD_COUNT]) {
    memset(fields, 0, sizeof(Element) * FIELD_COUNT);
    const unsigned char *at = document + 4, *end = document + length - 1;
    while (at < end) {
        unsigned char type = *at++;
        const unsigned char *key = at;
        const unsigned char *nul = memchr(at, 0, (size_t)(end - at));
        if (nul == NULL) return 0;
        at = nul + 1;
        Py_ssize_t size = value_size(type, at, end - at);
        if (size < 0) return 0;
        int field = field_of((const char *)key, (size_t)(nul - key));
        if (field >= 0) fields[field] = (Element){type, at, (int32_t)size};
        at += size;
    }
    return at == end && *end == 0;
}

/* A string element's text, NULL (no error set) when it is not a valid UTF-8 BSON string. */
static PyObject *text_of(const Element *element) {
    if (element->type != 0x02) return NULL;
    int32_t bytes = element->size - 4;  /* with the NUL */
    if (element->value[4 + bytes - 1] != 0) return NULL;
    PyObject *text = PyUnicode_DecodeUTF8((const char *)element->value + 4, bytes - 1, "strict");
    if (text == NULL) PyErr_Clear();
    return text;
}

/* Whether `text.strip()` leaves something. */
static int has_content(PyObject *text) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t index = 0; index < length; index++) {
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, index))) return 1;
    }
    return 0;
}

static int is_none(const Element *element) {
    return element->type == 0 || element->type == 0x0A || element->type == 0x06;
}

static PyObject *hex_of(const unsigned char *object_id) {
    static const char digits[] = "0123456789abcdef";
    PyObject *hex = PyUnicode_New(24, 127);
    if (hex == NULL) return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(hex);
    for (int index = 0; index < 12; index++) {
        out[2 * index] = (Py_UCS1)digits[object_id[index] >> 4];
        out[2 * index + 1] = (Py_UCS1)digits[object_id[index] & 15];
    }
    return hex;
}

/* The optional text fields: the text when it is a string, None otherwise (also when not UTF-8:
 * such a document is left to PyMongo, which raises as before). 0 for "not clean". A symbol (0x0E)
 * is left to PyMongo too: it decodes one to a str, which `_clean_event` keeps. */
static int optional_text(const Element *element, PyObject **out) {
    if (element->type == 0x0E) return 0;
    if (element->type != 0x02) {
        *out = Py_NewRef(Py_None);
        return 1;
    }
    *out = text_of(element);
    return *out != NULL;
}

/* How events are made: by calling `make_event` with the nine fields, or, when it is given as
 * `(cls, field names)` for a slots class whose constructor only stores its arguments (a frozen
 * dataclass: `shared.fabric.EVENT_SLOTS`), by filling a new instance's slots directly. The frozen
 * dataclass's __init__ sets each field through object.__setattr__: 0.1 s of the read's CPU for
 * 127,000 events, a tenth of that this way. */
typedef struct {
    PyObject *call;          /* used when type is NULL */
    PyTypeObject *type;
    Py_ssize_t offsets[9];
} Maker;

static int slot_offset(PyTypeObject *type, PyObject *name, Py_ssize_t *offset) {
    PyObject *descriptor = PyObject_GetAttr((PyObject *)type, name);
    if (descriptor == NULL) return -1;
    /* The slot must be one of `type`'s own layout: a descriptor of another class set on it as an
     * attribute has that class's offset. */
    int plain = Py_IS_TYPE(descriptor, &PyMemberDescr_Type) &&
                ((PyMemberDescrObject *)descriptor)->d_member->type == T_OBJECT_EX &&
                PyType_IsSubtype(type, PyDescr_TYPE(descriptor));
    if (plain) *offset = ((PyMemberDescrObject *)descriptor)->d_member->offset;
    Py_DECREF(descriptor);
    if (!plain) PyErr_SetString(PyExc_TypeError, "scan_batch: a field of the event class is not a plain slot");
    return plain ? 0 : -1;
}

static int find_maker(PyObject *make_event, Maker *maker) {
    maker->call = make_event;
    maker->type = NULL;
    if (!PyTuple_Check(make_event)) return 0;
    PyObject *cls = NULL, *names = NULL;
    if (!PyArg_ParseTuple(make_event, "O!O!", &PyType_Type, &cls, &PyTuple_Type, &names)) return -1;
    if (PyTuple_GET_SIZE(names) != 9) {
        PyErr_SetString(PyExc_TypeError, "scan_batch: (cls, names) needs the nine field names");
        return -1;
    }
    for (int index = 0; index < 9; index++) {
        if (slot_offset((PyTypeObject *)cls, PyTuple_GET_ITEM(names, index), &maker->offsets[index]) < 0) return -1;
    }
    maker->type = (PyTypeObject *)cls;
    return 0;
}

/* A new event from nine new references (stolen, also on failure). */
static PyObject *make(const Maker *maker, PyObject *args[9]) {
    if (maker->type == NULL) {
        PyObject *event = PyObject_Vectorcall(maker->call, args, 9, NULL);
        for (int index = 0; index < 9; index++) Py_DECREF(args[index]);
        return event;
    }
    PyObject *event = maker->type->tp_alloc(maker->type, 0);
    for (int index = 0; index < 9; index++) {
        if (event == NULL) {
            Py_DECREF(args[index]);
            continue;
        }
        *(PyObject **)((char *)event + maker->offsets[index]) = args[index];
    }
    return event;
}

/* The clean event of a document, NULL with no error set when the document needs the repair, NULL
 * with an error set when Python failed (memory). */
static PyObject *clean_event(const Maker *maker, const unsigned char *document, int32_t length) {
    Element fields[FIELD_COUNT];
    if (!find_fields(document, length, fields)) return NULL;
    const Element *start = &fields[FIELD_START], *end = &fields[FIELD_END];
    const Element *confidence = &fields[FIELD_CONFIDENCE];
    if (fields[FIELD_ID].type != 0x07 || start->type != 0x01 || end->type != 0x01) return NULL;
    if (!is_none(&fields[FIELD_POSITIONS])) return NULL;
    double start_seconds = read_double(start->value), end_seconds = read_double(end->value);
    if (!(0.0 <= start_seconds && start_seconds <= end_seconds && end_seconds < INFINITY)) return NULL;
    double confidence_value = 0.0;
    if (!is_none(confidence)) {
        if (confidence->type != 0x01) return NULL;
        confidence_value = read_double(confidence->value);
        if (!isfinite(confidence_value)) return NULL;
    }
    PyObject *args[9] = {NULL};
    PyObject *event = NULL;
    args[1] = text_of(&fields[FIELD_TYPE]);
    if (args[1] == NULL || !has_content(args[1])) goto done;
    args[2] = text_of(&fields[FIELD_VALUE]);
    if (args[2] == NULL || !has_content(args[2])) goto done;
    if (!optional_text(&fields[FIELD_SOURCE], &args[6])) goto done;
    if (!optional_text(&fields[FIELD_FULL_PATH], &args[8])) goto done;
    if ((args[0] = hex_of(fields[FIELD_ID].value)) == NULL) goto done;
    if ((args[3] = PyFloat_FromDouble(start_seconds)) == NULL) goto done;
    if ((args[4] = PyFloat_FromDouble(end_seconds)) == NULL) goto done;
    args[5] = is_none(confidence) ? Py_NewRef(Py_None) : PyFloat_FromDouble(confidence_value);
    if (args[5] == NULL) goto done;
    args[7] = Py_NewRef(Py_None);
    return make(maker, args);
done:
    for (int index = 0; index < 9; index++) Py_XDECREF(args[index]);
    return event;
}

static int append_span(PyObject *list, Py_ssize_t offset, Py_ssize_t length) {
    PyObject *span = Py_BuildValue("(nn)", offset, length);
    if (span == NULL) return -1;
    int failed = PyList_Append(list, span);
    Py_DECREF(span);
    return failed;
}

PyDoc_STRVAR(scan_batch_doc,
"scan_batch(batch: bytes, make_event) -> (clean: list, others: list[tuple[int, int]])\n\n"
"The events (`make_event(id, event_type, value, start, end, confidence, source, None, full_path)`,\n"
"or with `make_event = (cls, nine field names)` a new `cls` with those slots filled)\n"
"of the batch's documents that need no repair, in batch order, and the (offset, length) of every\n"
"other document. Bytes past a document whose framing is broken are one last span, for PyMongo to\n"
"decode (and raise on).");

static PyObject *scan_batch(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "scan_batch(batch, make_event) takes two arguments");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    Maker maker;
    PyObject *clean = NULL, *others = NULL, *result = NULL;
    if (find_maker(args[1], &maker) < 0) goto done;
    clean = PyList_New(0);
    others = PyList_New(0);
    if (clean == NULL || others == NULL) goto done;
    const unsigned char *bytes = view.buf;
    Py_ssize_t offset = 0, total = view.len;
    while (offset < total) {
        int32_t length = total - offset >= 5 ? read_int32(bytes + offset) : 0;
        if (length < 5 || length > total - offset) {
            if (append_span(others, offset, total - offset) < 0) goto done;
            break;
        }
        PyObject *event = clean_event(&maker, bytes + offset, length);
        if (event != NULL) {
            int failed = PyList_Append(clean, event);
            Py_DECREF(event);
            if (failed) goto done;
        } else if (PyErr_Occurred() || append_span(others, offset, length) < 0) {
            goto done;
        }
        offset += length;
    }
    result = PyTuple_Pack(2, clean, others);
done:
    Py_XDECREF(clean);
    Py_XDECREF(others);
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(count_documents_doc,
"count_documents(batch: bytes) -> int\n\nHow many documents the batch's framing holds (a broken tail counts as one).");

static PyObject *count_documents(PyObject *module, PyObject *batch) {
    Py_buffer view;
    if (PyObject_GetBuffer(batch, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *bytes = view.buf;
    Py_ssize_t offset = 0, count = 0;
    while (offset < view.len) {
        int32_t length = view.len - offset >= 5 ? read_int32(bytes + offset) : 0;
        count++;
        if (length < 5 || length > view.len - offset) break;
        offset += length;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(count);
}

static PyMethodDef methods[] = {
    {"scan_batch", (PyCFunction)(void (*)(void))scan_batch, METH_FASTCALL, scan_batch_doc},
    {"count_documents", count_documents, METH_O, count_documents_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_catalog_native",
    .m_doc = "The catalog read's clean path in C (shared.fabric).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__catalog_native(void) { return PyModule_Create(&module); }
