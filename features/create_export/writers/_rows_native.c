/* The JSON and CSV export writers' rows, rendered in C (issue 14).

Each call renders one chunk of a `SegmentTable` (about 2,000 rows) and returns it as bytes, exactly as
the Python path writes it: `orjson.dumps(item, default=str)` joined by ",\n" for JSON, and
`csv.writer(..., lineterminator="\r\n")` of the guarded row for CSV. The Python modules compare the
two in their tests.

The work is done in two passes so that most of it runs without the GIL:
  1. with the GIL: read each segment's attributes, check their types, format the numbers, and
     record a list of "pieces" (raw bytes so far, then one string to escape). A row with anything
     unusual (a positions list, a non-float time, a big int, an exponent float) is rendered by the
     Python callback instead, and its bytes become raw bytes of the chunk;
  2. without the GIL: copy the raw bytes and escape each string straight from its code points into
     one output buffer. Strings are immutable and each piece holds a reference, so this is safe.

A lone surrogate (orjson refuses it, UTF-8 cannot encode it) is found in pass 2; the call then
returns None and the Python path renders the chunk, raising exactly as it always did.
*/

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <string.h>

/* --- growable byte buffers (raw allocator: pass 2 uses them without the GIL) ------------------- */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buffer;

static int buffer_reserve(Buffer *buffer, Py_ssize_t more) {
    if (buffer->len + more <= buffer->cap) {
        return 0;
    }
    Py_ssize_t cap = buffer->cap ? buffer->cap : 65536;
    while (cap < buffer->len + more) {
        cap *= 2;
    }
    char *data = PyMem_RawRealloc(buffer->data, (size_t)cap);
    if (data == NULL) {
        return -1;
    }
    buffer->data = data;
    buffer->cap = cap;
    return 0;
}

static int buffer_add(Buffer *buffer, const char *bytes, Py_ssize_t len) {
    if (len == 0) { /* an empty plan's scratch is NULL: memcpy must not be given it */
        return 0;
    }
    if (buffer_reserve(buffer, len) < 0) {
        return -1;
    }
    memcpy(buffer->data + buffer->len, bytes, (size_t)len);
    buffer->len += len;
    return 0;
}

#define ADD_LITERAL(buffer, text) buffer_add((buffer), (text), (Py_ssize_t)(sizeof(text) - 1))

/* --- pieces: raw bytes up to `raw_end`, then one string to escape ----------------------------- */

enum { AS_JSON, AS_CSV };

typedef struct {
    Py_ssize_t raw_end; /* scratch bytes before the string end here */
    PyObject *text;     /* owned reference */
    int style;
} Piece;

typedef struct {
    Buffer scratch; /* raw bytes: keys, separators, numbers, rows the callback rendered */
    Piece *pieces;
    Py_ssize_t count, cap;
} Plan;

static int plan_add_text(Plan *plan, PyObject *text, int style) {
    if (plan->count == plan->cap) {
        Py_ssize_t cap = plan->cap ? plan->cap * 2 : 1024;
        Piece *pieces = PyMem_RawRealloc(plan->pieces, (size_t)cap * sizeof(Piece));
        if (pieces == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        plan->pieces = pieces;
        plan->cap = cap;
    }
    Py_INCREF(text);
    plan->pieces[plan->count++] = (Piece){plan->scratch.len, text, style};
    return 0;
}

static int plan_add_raw(Plan *plan, const char *bytes, Py_ssize_t len) {
    if (buffer_add(&plan->scratch, bytes, len) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

#define PLAN_LITERAL(plan, text) plan_add_raw((plan), (text), (Py_ssize_t)(sizeof(text) - 1))

static void plan_free(Plan *plan) {
    for (Py_ssize_t i = 0; i < plan->count; i++) {
        Py_DECREF(plan->pieces[i].text);
    }
    PyMem_RawFree(plan->pieces);
    PyMem_RawFree(plan->scratch.data);
}

/* --- numbers ----------------------------------------------------------------------------------- */

#define NUMBER_SIZE 32

/* The shortest decimal of a float with few digits (times like 1234.567, confidences like 87.25), as
   `repr` spells it: `r / 10**k` for the smallest k at which that quotient rounds back to `value`.
   Only tried where each k-digit decimal step (10**-k) is at least 1,000 times the float's own
   spacing: there at most one k-digit decimal rounds to the float, and the rounding of `value * 10**k`
   (under a thousandth of a unit) cannot pick the wrong one, so the answer is `repr`'s (which is
   the shortest, and the nearest of the shortest). Returns its length, or 0 to leave it to dtoa. */
static const double POWERS[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                                1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16};
static const unsigned long long INT_POWERS[] = {1ULL,
                                                10ULL,
                                                100ULL,
                                                1000ULL,
                                                10000ULL,
                                                100000ULL,
                                                1000000ULL,
                                                10000000ULL,
                                                100000000ULL,
                                                1000000000ULL,
                                                10000000000ULL,
                                                100000000000ULL,
                                                1000000000000ULL,
                                                10000000000000ULL,
                                                100000000000000ULL,
                                                1000000000000000ULL,
                                                10000000000000000ULL};
#define MAX_DIGITS 16

/* `number` in decimal, at least `width` digits (zero-padded); snprintf cost more than the rest of a
   row. Returns the length. */
static int put_digits(char *out, unsigned long long number, int width) {
    char reversed[24];
    int len = 0;
    do {
        reversed[len++] = (char)('0' + number % 10);
        number /= 10;
    } while (number || len < width);
    for (int i = 0; i < len; i++) {
        out[i] = reversed[len - 1 - i];
    }
    return len;
}

static int short_float(double value, char *out) {
    double magnitude = fabs(value);
    if (!(magnitude >= 1e-4 && magnitude < 0x1p53)) { /* repr's exponent range, NaN, inf */
        return 0;
    }
    int exponent;
    frexp(magnitude, &exponent);
    double spacing = ldexp(1.0, exponent - 53); /* the distance to the next float */
    for (int k = 0; k <= MAX_DIGITS && spacing * POWERS[k] <= 1e-3; k++) {
        double scaled = magnitude * POWERS[k];
        if (scaled >= 0x1p53) {
            return 0;
        }
        double rounded = nearbyint(scaled);
        /* Both exact, so the division is correctly rounded: equal only when r/10**k reads back. */
        if (rounded / POWERS[k] != magnitude) {
            continue;
        }
        unsigned long long digits = (unsigned long long)rounded;
        unsigned long long whole = digits / INT_POWERS[k], fraction = digits % INT_POWERS[k];
        int len = 0;
        if (value < 0) {
            out[len++] = '-';
        }
        len += put_digits(out + len, whole, 1);
        out[len++] = '.';
        return len + put_digits(out + len, fraction, k == 0 ? 1 : k); /* 12.0, 0.005 */
    }
    return 0;
}

/* `repr(value)` of an exact float, when it has no exponent and is finite. Only then is it what both
   orjson writes (checked on millions of floats: they differ on exponents, `1e-05` vs `0.00001`) and
   what `plain_number` returns. Returns its length, 0 when the Python path must render the row, or
   -1 on error. */
static int plain_float(PyObject *value, char *out) {
    if (!PyFloat_CheckExact(value)) {
        return 0;
    }
    double number = PyFloat_AS_DOUBLE(value);
    int len = short_float(number, out);
    if (len) {
        return len;
    }
    char *text = PyOS_double_to_string(number, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL) {
        return -1;
    }
    size_t text_len = strlen(text);
    int plain = text_len < NUMBER_SIZE && strpbrk(text, "en") == NULL; /* 1e-05, inf, nan */
    if (plain) {
        memcpy(out, text, text_len);
    }
    PyMem_Free(text);
    return plain ? (int)text_len : 0;
}

/* An exact int that fits in 64 bits, in decimal; 0 when it does not (orjson's own range rules then
   decide, in the Python path). */
static int small_int(PyObject *value, char *out) {
    if (!PyLong_CheckExact(value)) {
        return 0;
    }
    int overflow = 0;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow || (number == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    if (number < 0) {
        out[0] = '-';
        return 1 + put_digits(out + 1, 0ULL - (unsigned long long)number, 1);
    }
    return put_digits(out, (unsigned long long)number, 1);
}

/* --- pass 2: strings escaped into the output, without the GIL --------------------------------- */

static inline Py_ssize_t put_utf8(char *out, Py_UCS4 c) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static int is_surrogate(Py_UCS4 c) { return c >= 0xD800 && c <= 0xDFFF; }

/* orjson's escapes: `"`, `\`, and every control character below 0x20 (the short forms where JSON
   has one, else `\u00xx` in lower case). DEL, U+2028/2029 and all other text go out as UTF-8. */
static inline Py_ssize_t put_json_char(char *out, Py_UCS4 c) {
    static const char hex[] = "0123456789abcdef";
    if (c >= 0x20 && c != '"' && c != '\\') {
        return put_utf8(out, c);
    }
    out[0] = '\\';
    switch (c) {
    case '"': out[1] = '"'; return 2;
    case '\\': out[1] = '\\'; return 2;
    case '\b': out[1] = 'b'; return 2;
    case '\t': out[1] = 't'; return 2;
    case '\n': out[1] = 'n'; return 2;
    case '\f': out[1] = 'f'; return 2;
    case '\r': out[1] = 'r'; return 2;
    default:
        memcpy(out + 1, "u00", 3);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 0xF];
        return 6;
    }
}

static int is_formula_start(Py_UCS4 c) {
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

static int needs_csv_quotes(Py_UCS4 c) { return c == ',' || c == '"' || c == '\r' || c == '\n'; }

static int json_escaped(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

/* An ASCII string's bytes are its UTF-8: copied in runs between the characters JSON escapes. */
static char *put_json_ascii(char *at, const unsigned char *bytes, Py_ssize_t len) {
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (json_escaped(bytes[i])) {
            memcpy(at, bytes + run, (size_t)(i - run));
            at += i - run;
            at += put_json_char(at, bytes[i]);
            run = i + 1;
        }
    }
    memcpy(at, bytes + run, (size_t)(len - run));
    return at + (len - run);
}

/* Any other string, a code point at a time; NULL at a lone surrogate. */
static char *put_json_unicode(char *at, int kind, const void *data, Py_ssize_t len) {
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (is_surrogate(c)) {
            return NULL;
        }
        at += put_json_char(at, c);
    }
    return at;
}

/* csv.writer's QUOTE_MINIMAL with this dialect: a field is quoted when it holds the delimiter, the
   quote character or either line-terminator character, and its quotes are doubled. */
static int csv_needs_quotes(int kind, const void *data, Py_ssize_t len) {
    for (Py_ssize_t i = 0; i < len; i++) {
        if (needs_csv_quotes(PyUnicode_READ(kind, data, i))) {
            return 1;
        }
    }
    return 0;
}

static char *put_csv_field(char *at, PyObject *text) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    int quoted = csv_needs_quotes(kind, data, len), ascii = PyUnicode_IS_ASCII(text);
    if (quoted) {
        *at++ = '"';
    }
    if (len && is_formula_start(PyUnicode_READ(kind, data, 0))) {
        *at++ = '\''; /* guard_formula */
    }
    if (ascii && !quoted) { /* the common field: its bytes as they are */
        memcpy(at, data, (size_t)len);
        at += len;
    } else {
        for (Py_ssize_t i = 0; i < len; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (is_surrogate(c)) {
                return NULL;
            }
            if (c == '"') {
                *at++ = '"';
            }
            at += put_utf8(at, c);
        }
    }
    if (quoted) {
        *at++ = '"';
    }
    return at;
}

/* One string as its JSON string or its CSV field; -1 when it holds a lone surrogate, -2 when out of
   memory. Six bytes per code point is the most either style writes (`\u001f`), plus quotes and a
   guard. */
static int put_text(Buffer *out, PyObject *text, int style) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    if (buffer_reserve(out, 6 * len + 4) < 0) {
        return -2;
    }
    char *start = out->data + out->len, *at = start;
    if (style == AS_JSON) {
        *at++ = '"';
        if (PyUnicode_IS_ASCII(text)) {
            at = put_json_ascii(at, PyUnicode_DATA(text), len);
        } else {
            at = put_json_unicode(at, PyUnicode_KIND(text), PyUnicode_DATA(text), len);
        }
        if (at == NULL) {
            return -1;
        }
        *at++ = '"';
    } else if ((at = put_csv_field(at, text)) == NULL) {
        return -1;
    }
    out->len += at - start;
    return 0;
}

/* Pass 2: the plan's raw bytes and escaped strings, in order. 0, -1 (surrogate) or -2 (memory). */
static int render_plan(const Plan *plan, Buffer *out) {
    Py_ssize_t raw_at = 0;
    for (Py_ssize_t i = 0; i < plan->count; i++) {
        const Piece *piece = &plan->pieces[i];
        if (buffer_add(out, plan->scratch.data + raw_at, piece->raw_end - raw_at) < 0) {
            return -2;
        }
        raw_at = piece->raw_end;
        int status = put_text(out, piece->text, piece->style);
        if (status < 0) {
            return status;
        }
    }
    return buffer_add(out, plan->scratch.data + raw_at, plan->scratch.len - raw_at) < 0 ? -2 : 0;
}

/* Pass 2 with the GIL released, then the bytes (or None for a surrogate). */
static PyObject *finish(Plan *plan) {
    Buffer out = {NULL, 0, 0};
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = buffer_reserve(&out, plan->scratch.len + 1) < 0 ? -2 : render_plan(plan, &out);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (status == -2) {
        PyErr_NoMemory();
    } else if (status == -1) {
        result = Py_NewRef(Py_None);
    } else {
        result = PyBytes_FromStringAndSize(out.data, out.len);
    }
    PyMem_RawFree(out.data);
    return result;
}

/* --- pass 1: reading the segments ------------------------------------------------------------- */

enum { ID, EVENT_TYPE, VALUE, START, END, CONFIDENCE, SOURCE, POSITIONS, FIELDS };

/* The segment's attribute names, interned once, in the order above. */
static PyObject *field_names[FIELDS];

static void release_fields(PyObject **fields, int count) {
    for (int i = 0; i < count; i++) {
        Py_DECREF(fields[i]);
    }
}


/* Where the segments' class keeps each field, when all of them are plain `__slots__` (a slots
   dataclass): the loop then reads them directly and can prefetch the rows ahead. The events of an
   asset sit all over memory once sorted, and waiting for them was most of the time. */
typedef struct {
    PyTypeObject *type; /* NULL: read every segment through getattr */
    Py_ssize_t offsets[FIELDS];
} Layout;

static int slot_offset(PyTypeObject *type, PyObject *name, Py_ssize_t *offset) {
    PyObject *descriptor = PyObject_GetAttr((PyObject *)type, name);
    if (descriptor == NULL) {
        PyErr_Clear();
        return 0;
    }
    /* A slot of `type`'s own layout: a descriptor of another class set on it has that class's offset
       (getattr would raise TypeError on it). */
    int plain = Py_IS_TYPE(descriptor, &PyMemberDescr_Type) &&
                ((PyMemberDescrObject *)descriptor)->d_member->type == T_OBJECT_EX &&
                !(((PyMemberDescrObject *)descriptor)->d_member->flags & READ_RESTRICTED) &&
                PyType_IsSubtype(type, PyDescr_TYPE(descriptor));
    if (plain) {
        *offset = ((PyMemberDescrObject *)descriptor)->d_member->offset;
    }
    Py_DECREF(descriptor);
    return plain;
}

static void find_layout(PyObject *segments, Layout *layout) {
    layout->type = NULL;
    if (PyList_GET_SIZE(segments) == 0) {
        return;
    }
    PyTypeObject *type = Py_TYPE(PyList_GET_ITEM(segments, 0));
    if (type->tp_getattro != PyObject_GenericGetAttr) {
        return;
    }
    for (int i = 0; i < FIELDS; i++) {
        if (!slot_offset(type, field_names[i], &layout->offsets[i])) {
            return;
        }
    }
    layout->type = (PyTypeObject *)Py_NewRef(type); /* compared by address: kept alive (release_layout) */
}

static void release_layout(Layout *layout) { Py_XDECREF(layout->type); }

static PyObject *slot(PyObject *segment, Py_ssize_t offset) { return *(PyObject **)((char *)segment + offset); }

/* A segment's attributes (new references), or -1 with an exception set. */
static int read_segment(PyObject *segment, const Layout *layout, PyObject **fields) {
    if (Py_IS_TYPE(segment, layout->type)) {
        int i = 0;
        while (i < FIELDS && slot(segment, layout->offsets[i]) != NULL) {
            fields[i] = Py_NewRef(slot(segment, layout->offsets[i]));
            i++;
        }
        if (i == FIELDS) {
            return 0;
        }
        release_fields(fields, i); /* an unset slot: getattr raises its AttributeError */
    }
    for (int i = 0; i < FIELDS; i++) {
        fields[i] = PyObject_GetAttr(segment, field_names[i]);
        if (fields[i] == NULL) {
            release_fields(fields, i);
            return -1;
        }
    }
    return 0;
}

/* Two steps ahead of the loop: the segment itself far ahead, and the objects its fields point to
   (by then in cache) nearer. */
enum { FAR_AHEAD = 16, NEAR_AHEAD = 8 };

static void prefetch_ahead(PyObject *segments, const Layout *layout, Py_ssize_t index, Py_ssize_t stop) {
    if (layout->type == NULL) {
        return;
    }
    if (index + FAR_AHEAD < stop) {
        PyObject *segment = PyList_GET_ITEM(segments, index + FAR_AHEAD);
        __builtin_prefetch(segment);
        __builtin_prefetch((char *)segment + 64);
    }
    if (index + NEAR_AHEAD < stop) {
        PyObject *segment = PyList_GET_ITEM(segments, index + NEAR_AHEAD);
        if (Py_IS_TYPE(segment, layout->type)) {
            for (int i = 0; i < FIELDS; i++) {
                __builtin_prefetch(slot(segment, layout->offsets[i]));
            }
        }
    }
}

/* Plain text this module may escape: an exact, ready str (a subclass may render differently). */
static int plain_text(PyObject *value) { return PyUnicode_CheckExact(value) && PyUnicode_READY(value) == 0; }

/* The Python path's bytes for row `index`, added as raw bytes; -1 on error. */
static int add_fallback(Plan *plan, PyObject *fallback, Py_ssize_t index) {
    PyObject *rendered = PyObject_CallFunction(fallback, "n", index);
    if (rendered == NULL) {
        return -1;
    }
    if (!PyBytes_Check(rendered)) {
        PyErr_SetString(PyExc_TypeError, "the fallback must return bytes");
        Py_DECREF(rendered);
        return -1;
    }
    int status = plan_add_raw(plan, PyBytes_AS_STRING(rendered), PyBytes_GET_SIZE(rendered));
    Py_DECREF(rendered);
    return status;
}

/* The numbers of one row, formatted before anything of the row is planned. */
typedef struct {
    char start[NUMBER_SIZE], end[NUMBER_SIZE], confidence[NUMBER_SIZE], start_frame[NUMBER_SIZE],
        end_frame[NUMBER_SIZE];
    int start_len, end_len, confidence_len, start_frame_len, end_frame_len;
} Numbers;

/* Formats start, end and the optional confidence; 1 when all are plain, 0 when not, -1 on error. */
static int read_times(PyObject **fields, Numbers *numbers) {
    numbers->start_len = plain_float(fields[START], numbers->start);
    if (numbers->start_len <= 0) {
        return numbers->start_len;
    }
    numbers->end_len = plain_float(fields[END], numbers->end);
    if (numbers->end_len <= 0) {
        return numbers->end_len;
    }
    numbers->confidence_len = 0;
    if (fields[CONFIDENCE] != Py_None) {
        numbers->confidence_len = plain_float(fields[CONFIDENCE], numbers->confidence);
        if (numbers->confidence_len <= 0) {
            return numbers->confidence_len;
        }
    }
    return 1;
}

static int texts_are_plain(PyObject **fields) {
    return plain_text(fields[ID]) && plain_text(fields[EVENT_TYPE]) && plain_text(fields[VALUE]) &&
           (fields[SOURCE] == Py_None || plain_text(fields[SOURCE]));
}

/* The arguments both functions take: the table's segments and a chunk of them. */
typedef struct {
    PyObject *segments, *fallback;
    Py_ssize_t first, count;
} Chunk;

static int check_chunk(const Chunk *chunk, PyObject **columns, int column_count) {
    if (!PyList_CheckExact(chunk->segments)) {
        PyErr_SetString(PyExc_TypeError, "segments must be a list");
        return -1;
    }
    Py_ssize_t size = PyList_GET_SIZE(chunk->segments);
    for (int i = 0; i < column_count; i++) {
        if (!PyList_CheckExact(columns[i]) || PyList_GET_SIZE(columns[i]) != size) {
            PyErr_SetString(PyExc_ValueError, "every column must be a list as long as the segments");
            return -1;
        }
    }
    if (chunk->first < 0 || chunk->count < 0 || chunk->first > size || chunk->count > size - chunk->first) {
        PyErr_SetString(PyExc_IndexError, "the chunk is outside the segments");
        return -1;
    }
    return 0;
}

/* Pass 1 runs Python (the fallback, a segment's getattr), which may shorten the lists: -1 with
   RuntimeError when one of them no longer reaches `stop`, before anything reads past its end. */
static int lists_reach(const Chunk *chunk, PyObject **columns, int column_count, Py_ssize_t stop) {
    int reach = PyList_GET_SIZE(chunk->segments) >= stop;
    for (int i = 0; i < column_count && reach; i++) {
        reach = PyList_GET_SIZE(columns[i]) >= stop;
    }
    if (!reach) {
        PyErr_SetString(PyExc_RuntimeError, "a list changed size while its rows were rendered");
    }
    return reach ? 0 : -1;
}

/* The segment at `index` read (a reference held while its getattr runs), then the lists checked again. */
static int read_row(const Chunk *chunk, PyObject **columns, int column_count, Py_ssize_t index, Py_ssize_t stop,
                    const Layout *layout, PyObject **fields) {
    PyObject *segment = Py_NewRef(PyList_GET_ITEM(chunk->segments, index));
    int status = read_segment(segment, layout, fields);
    Py_DECREF(segment);
    if (status == 0 && lists_reach(chunk, columns, column_count, stop) < 0) {
        release_fields(fields, FIELDS);
        status = -1;
    }
    return status;
}

/* --- JSON -------------------------------------------------------------------------------------- */

enum { START_FRAMES, END_FRAMES, START_TIMECODES, END_TIMECODES, JSON_COLUMNS };

/* One item in orjson's key order; 1 when planned, 0 when the Python path must render it, -1 on
   error. Nothing is planned unless all of it can be. */
static int plan_json_item(Plan *plan, PyObject **fields, PyObject **columns, Py_ssize_t index) {
    PyObject *start_timecode = PyList_GET_ITEM(columns[START_TIMECODES], index);
    PyObject *end_timecode = PyList_GET_ITEM(columns[END_TIMECODES], index);
    if (fields[POSITIONS] != Py_None || !texts_are_plain(fields) || !plain_text(start_timecode) ||
        !plain_text(end_timecode)) {
        return 0;
    }
    Numbers numbers;
    int plain = read_times(fields, &numbers);
    if (plain <= 0) {
        return plain;
    }
    numbers.start_frame_len = small_int(PyList_GET_ITEM(columns[START_FRAMES], index), numbers.start_frame);
    numbers.end_frame_len = small_int(PyList_GET_ITEM(columns[END_FRAMES], index), numbers.end_frame);
    if (numbers.start_frame_len <= 0 || numbers.end_frame_len <= 0) {
        return 0;
    }
    int failed = PLAN_LITERAL(plan, "{\"id\":") || plan_add_text(plan, fields[ID], AS_JSON) ||
                 PLAN_LITERAL(plan, ",\"sdnaEventType\":") || plan_add_text(plan, fields[EVENT_TYPE], AS_JSON) ||
                 PLAN_LITERAL(plan, ",\"eventValue\":") || plan_add_text(plan, fields[VALUE], AS_JSON) ||
                 PLAN_LITERAL(plan, ",\"start\":") || plan_add_raw(plan, numbers.start, numbers.start_len) ||
                 PLAN_LITERAL(plan, ",\"end\":") || plan_add_raw(plan, numbers.end, numbers.end_len) ||
                 PLAN_LITERAL(plan, ",\"startFrame\":") ||
                 plan_add_raw(plan, numbers.start_frame, numbers.start_frame_len) ||
                 PLAN_LITERAL(plan, ",\"endFrame\":") ||
                 plan_add_raw(plan, numbers.end_frame, numbers.end_frame_len) ||
                 PLAN_LITERAL(plan, ",\"startTimecode\":") || plan_add_text(plan, start_timecode, AS_JSON) ||
                 PLAN_LITERAL(plan, ",\"endTimecode\":") || plan_add_text(plan, end_timecode, AS_JSON);
    if (!failed && numbers.confidence_len) {
        failed = PLAN_LITERAL(plan, ",\"confidenceScore\":") ||
                 plan_add_raw(plan, numbers.confidence, numbers.confidence_len);
    }
    if (!failed && fields[SOURCE] != Py_None) {
        failed = PLAN_LITERAL(plan, ",\"source\":") || plan_add_text(plan, fields[SOURCE], AS_JSON);
    }
    return failed || PLAN_LITERAL(plan, "}") ? -1 : 1;
}

static int plan_json_chunk(Plan *plan, const Chunk *chunk, PyObject **columns) {
    Layout layout;
    find_layout(chunk->segments, &layout);
    Py_ssize_t stop = chunk->first + chunk->count;
    int status = 0;
    for (Py_ssize_t index = chunk->first; index < stop && status == 0; index++) {
        if (lists_reach(chunk, columns, JSON_COLUMNS, stop) < 0 ||
            (index > chunk->first && PLAN_LITERAL(plan, ",\n") < 0)) {
            status = -1;
            break;
        }
        prefetch_ahead(chunk->segments, &layout, index, stop);
        for (int column = 0; column < JSON_COLUMNS && index + NEAR_AHEAD < stop; column++) {
            __builtin_prefetch(PyList_GET_ITEM(columns[column], index + NEAR_AHEAD));
        }
        PyObject *fields[FIELDS];
        if (read_row(chunk, columns, JSON_COLUMNS, index, stop, &layout, fields) < 0) {
            status = -1;
            break;
        }
        int planned = plan_json_item(plan, fields, columns, index);
        release_fields(fields, FIELDS);
        if (planned < 0 || (planned == 0 && add_fallback(plan, chunk->fallback, index) < 0)) {
            status = -1;
        }
    }
    release_layout(&layout);
    return status;
}

PyDoc_STRVAR(json_items_doc,
             "json_items(segments, start_frames, end_frames, start_timecodes, end_timecodes, first, count, "
             "fallback)\n--\n\n"
             "Items first..first+count as orjson.dumps(item, default=str) writes them, joined by b',\\n'.\n"
             "fallback(index) returns an item's bytes where this module does not render it; None when a\n"
             "string cannot be encoded (the Python path then raises as it would).");

static PyObject *json_items(PyObject *self, PyObject *args) {
    Chunk chunk;
    PyObject *columns[JSON_COLUMNS];
    if (!PyArg_ParseTuple(args, "OOOOOnnO:json_items", &chunk.segments, &columns[START_FRAMES],
                          &columns[END_FRAMES], &columns[START_TIMECODES], &columns[END_TIMECODES], &chunk.first,
                          &chunk.count, &chunk.fallback) ||
        check_chunk(&chunk, columns, JSON_COLUMNS) < 0) {
        return NULL;
    }
    Plan plan = {{NULL, 0, 0}, NULL, 0, 0};
    PyObject *result = plan_json_chunk(&plan, &chunk, columns) < 0 ? NULL : finish(&plan);
    plan_free(&plan);
    return result;
}

/* --- CSV --------------------------------------------------------------------------------------- */

/* One row of `csv._row`; 1 when planned, 0 when the Python path must render it, -1 on error. */
static int plan_csv_row(Plan *plan, PyObject **fields) {
    if (!texts_are_plain(fields)) {
        return 0;
    }
    Numbers numbers;
    int plain = read_times(fields, &numbers);
    if (plain <= 0) {
        return plain;
    }
    int failed = plan_add_text(plan, fields[ID], AS_CSV) || PLAN_LITERAL(plan, ",") ||
                 plan_add_text(plan, fields[EVENT_TYPE], AS_CSV) || PLAN_LITERAL(plan, ",") ||
                 plan_add_text(plan, fields[VALUE], AS_CSV) || PLAN_LITERAL(plan, ",") ||
                 plan_add_raw(plan, numbers.start, numbers.start_len) || PLAN_LITERAL(plan, ",") ||
                 plan_add_raw(plan, numbers.end, numbers.end_len) || PLAN_LITERAL(plan, ",") ||
                 plan_add_raw(plan, numbers.confidence, numbers.confidence_len) || PLAN_LITERAL(plan, ",");
    if (!failed && fields[SOURCE] != Py_None) {
        failed = plan_add_text(plan, fields[SOURCE], AS_CSV);
    }
    return failed || PLAN_LITERAL(plan, "\r\n") ? -1 : 1;
}

static int plan_csv_chunk(Plan *plan, const Chunk *chunk) {
    Layout layout;
    find_layout(chunk->segments, &layout);
    Py_ssize_t stop = chunk->first + chunk->count;
    int status = 0;
    for (Py_ssize_t index = chunk->first; index < stop && status == 0; index++) {
        if (lists_reach(chunk, NULL, 0, stop) < 0) {
            status = -1;
            break;
        }
        prefetch_ahead(chunk->segments, &layout, index, stop);
        PyObject *fields[FIELDS];
        if (read_row(chunk, NULL, 0, index, stop, &layout, fields) < 0) {
            status = -1;
            break;
        }
        int planned = plan_csv_row(plan, fields);
        release_fields(fields, FIELDS);
        if (planned < 0 || (planned == 0 && add_fallback(plan, chunk->fallback, index) < 0)) {
            status = -1;
        }
    }
    release_layout(&layout);
    return status;
}

PyDoc_STRVAR(csv_rows_doc,
             "csv_rows(segments, first, count, fallback)\n--\n\n"
             "Rows first..first+count as csv.writer(lineterminator='\\r\\n') writes csv._row of them,\n"
             "UTF-8. fallback(index) returns a row's bytes where this module does not render it; None\n"
             "when a string cannot be encoded (the Python path then raises as it would).");

static PyObject *csv_rows(PyObject *self, PyObject *args) {
    Chunk chunk;
    if (!PyArg_ParseTuple(args, "OnnO:csv_rows", &chunk.segments, &chunk.first, &chunk.count, &chunk.fallback) ||
        check_chunk(&chunk, NULL, 0) < 0) {
        return NULL;
    }
    Plan plan = {{NULL, 0, 0}, NULL, 0, 0};
    PyObject *result = plan_csv_chunk(&plan, &chunk) < 0 ? NULL : finish(&plan);
    plan_free(&plan);
    return result;
}

/* --- module ------------------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"json_items", json_items, METH_VARARGS, json_items_doc},
    {"csv_rows", csv_rows, METH_VARARGS, csv_rows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_rows_native",
    .m_doc = "The JSON and CSV export writers' rows, rendered in C.",
    .m_size = -1,
    .m_methods = methods,
};

static int intern_names(void) {
    const char *names[FIELDS] = {"id", "event_type", "value", "start", "end", "confidence", "source", "positions"};
    for (int i = 0; i < FIELDS; i++) {
        field_names[i] = PyUnicode_InternFromString(names[i]);
        if (field_names[i] == NULL) {
            return -1;
        }
    }
    return 0;
}

PyMODINIT_FUNC PyInit__rows_native(void) {
    if (intern_names() < 0) {
        return NULL;
    }
    return PyModule_Create(&module);
}
