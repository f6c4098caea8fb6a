/* The SRT writer's cue loop in C (issue 14): `srt.layout_cues`, the cue format and `write_in_chunks`
 * in one pass, byte for byte what the Python path in `srt.py` writes (its tests compare the two).
 *
 * The inputs are copied into C arrays first, with the GIL; the bytes objects are kept alive by a tuple
 * of our own, so their (immutable) buffers can be read without it. Each chunk is built with the GIL
 * released, so the service's event loop, in the same process, keeps answering meanwhile; it is taken
 * again only to grow the chunk and to call `write`. Memory: the arrays, the shown text, one chunk.
 *
 * The chunk is built straight inside a bytes object nobody else can see yet, so no copy is made when
 * it is handed to `write`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_cue_chunks.h"

#include <limits.h>
#include <string.h>

/* The most a cue holds besides its shown text: a number (at most 19 digits), two labels (hours of at
 * most 13 digits, then ":MM:SS,mmm"), " --> " and three LFs: 73 bytes, rounded up. */
#define CUE_OVERHEAD 96
/* The shown text's first room: a few lines; it doubles as more are shown at once. */
#define SHOWN_FIRST_ROOM 4096

/* The spans, read once with the GIL. */
typedef struct {
    Py_ssize_t count;
    long long *starts;
    long long *ends;
    const char **texts;
    Py_ssize_t *lengths;
    PyObject *keep; /* a tuple of the lines: their buffers stay valid without the GIL */
} Spans;

typedef struct {
    long long end;
    Py_ssize_t index;
} Ending;

/* `layout_cues`' state, kept from one chunk to the next. */
typedef struct {
    Py_ssize_t next; /* the next span to start */
    long long moment;
    char *shown; /* the active spans' texts, in start order */
    size_t shown_size;
    size_t shown_room;
    Py_ssize_t *active; /* indices of the spans in `shown`, ascending */
    Py_ssize_t active_count;
    Ending *ending; /* (end, index) of the active spans, a min-heap */
    Py_ssize_t ending_count;
    Py_ssize_t cues;
} Sweep;


typedef enum { BUILT_FULL, BUILT_ALL, NEEDS_ROOM, OUT_OF_MEMORY } Built;

/* --- reading the inputs (GIL held) ------------------------------------------------------------- */

static void spans_free(Spans *spans) {
    PyMem_RawFree(spans->starts);
    PyMem_RawFree(spans->ends);
    PyMem_RawFree(spans->texts);
    PyMem_RawFree(spans->lengths);
    Py_CLEAR(spans->keep);
}


/* A tuple of the sequence's items: our own references, safe from a caller changing its list. */
static PyObject *as_tuple(PyObject *sequence, const char *what) {
    PyObject *tuple = PySequence_Tuple(sequence);
    if (tuple == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Format(PyExc_TypeError, "%s must be a sequence, not %.100s", what, Py_TYPE(sequence)->tp_name);
    }
    return tuple;
}

static int read_times(PyObject *sequence, const char *what, Py_ssize_t count, long long *out) {
    PyObject *tuple = as_tuple(sequence, what);
    if (tuple == NULL) {
        return -1;
    }
    int status = 0;
    if (PyTuple_GET_SIZE(tuple) != count) {
        PyErr_Format(PyExc_ValueError, "%s has %zd items, the lines %zd", what, PyTuple_GET_SIZE(tuple), count);
        status = -1;
    }
    for (Py_ssize_t i = 0; status == 0 && i < count; i++) {
        status = read_time(PyTuple_GET_ITEM(tuple, i), what, &out[i]);
    }
    Py_DECREF(tuple);
    return status;
}

/* The layout assumes what `write_segments` guarantees; anything else would write a broken file. */
static int check_order(const Spans *spans) {
    for (Py_ssize_t i = 0; i < spans->count; i++) {
        if (spans->ends[i] <= spans->starts[i]) {
            PyErr_Format(PyExc_ValueError, "span %zd ends at %lld ms, not after its start %lld ms", i,
                         spans->ends[i], spans->starts[i]);
            return -1;
        }
        if (i > 0 && spans->starts[i] < spans->starts[i - 1]) {
            PyErr_Format(PyExc_ValueError, "starts must be sorted: span %zd starts at %lld ms, before %lld ms", i,
                         spans->starts[i], spans->starts[i - 1]);
            return -1;
        }
    }
    return 0;
}

static int read_lines(Spans *spans) {
    /* Their sum bounds the shown text; past this, growing it could overflow a size. */
    size_t total = 0;
    for (Py_ssize_t i = 0; i < spans->count; i++) {
        PyObject *line = PyTuple_GET_ITEM(spans->keep, i);
        if (!PyBytes_Check(line)) {
            PyErr_Format(PyExc_TypeError, "lines must be bytes, not %.100s", Py_TYPE(line)->tp_name);
            return -1;
        }
        spans->texts[i] = PyBytes_AS_STRING(line);
        spans->lengths[i] = PyBytes_GET_SIZE(line);
        total += (size_t)spans->lengths[i];
        if (total > (size_t)PY_SSIZE_T_MAX / 4) {
            PyErr_SetString(PyExc_ValueError, "the lines are too long together");
            return -1;
        }
    }
    return 0;
}

static int spans_read(Spans *spans, PyObject *starts, PyObject *ends, PyObject *lines) {
    spans->keep = as_tuple(lines, "lines");
    if (spans->keep == NULL) {
        return -1;
    }
    Py_ssize_t count = spans->count = PyTuple_GET_SIZE(spans->keep);
    size_t items = count > 0 ? (size_t)count : 1;
    spans->starts = PyMem_RawMalloc(items * sizeof(long long));
    spans->ends = PyMem_RawMalloc(items * sizeof(long long));
    spans->texts = PyMem_RawMalloc(items * sizeof(const char *));
    spans->lengths = PyMem_RawMalloc(items * sizeof(Py_ssize_t));
    if (spans->starts == NULL || spans->ends == NULL || spans->texts == NULL || spans->lengths == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (read_lines(spans) < 0 || read_times(starts, "starts", count, spans->starts) < 0 ||
        read_times(ends, "ends", count, spans->ends) < 0) {
        return -1;
    }
    return check_order(spans);
}

/* --- the sweep (no GIL) ------------------------------------------------------------------------- */

static int sweep_init(Sweep *sweep, Py_ssize_t count) {
    size_t items = count > 0 ? (size_t)count : 1;
    sweep->active = PyMem_RawMalloc(items * sizeof(Py_ssize_t));
    sweep->ending = PyMem_RawMalloc(items * sizeof(Ending));
    /* Never NULL, even while every shown text is empty: memcpy and memmove may not be given NULL. */
    sweep->shown_room = SHOWN_FIRST_ROOM;
    sweep->shown = PyMem_RawMalloc(sweep->shown_room);
    return sweep->active != NULL && sweep->ending != NULL && sweep->shown != NULL ? 0 : -1;
}

static void sweep_free(Sweep *sweep) {
    PyMem_RawFree(sweep->shown);
    PyMem_RawFree(sweep->active);
    PyMem_RawFree(sweep->ending);
}

static int sweep_done(const Sweep *sweep, const Spans *spans) {
    return sweep->next >= spans->count && sweep->ending_count == 0;
}

/* heapq's order on (end, index) tuples. */
static int earlier(Ending a, Ending b) { return a.end < b.end || (a.end == b.end && a.index < b.index); }

static void heap_push(Sweep *sweep, Ending item) {
    Ending *heap = sweep->ending;
    Py_ssize_t at = sweep->ending_count++;
    while (at > 0 && earlier(item, heap[(at - 1) / 2])) {
        heap[at] = heap[(at - 1) / 2];
        at = (at - 1) / 2;
    }
    heap[at] = item;
}

static Ending heap_pop(Sweep *sweep) {
    Ending *heap = sweep->ending;
    Ending top = heap[0];
    Ending last = heap[--sweep->ending_count];
    Py_ssize_t count = sweep->ending_count, at = 0;
    for (;;) {
        Py_ssize_t child = 2 * at + 1;
        if (child >= count) {
            break;
        }
        if (child + 1 < count && earlier(heap[child + 1], heap[child])) {
            child++;
        }
        if (!earlier(heap[child], last)) {
            break;
        }
        heap[at] = heap[child];
        at = child;
    }
    if (count > 0) {
        heap[at] = last;
    }
    return top;
}

/* The span starts: its text goes at the end of `shown` (spans start in index order). */
static int show(Sweep *sweep, const Spans *spans, Py_ssize_t index) {
    size_t length = (size_t)spans->lengths[index];
    if (sweep->shown_size + length > sweep->shown_room) {
        size_t room = sweep->shown_room * 2;
        if (room < sweep->shown_size + length) {
            room = sweep->shown_size + length;
        }
        char *grown = PyMem_RawRealloc(sweep->shown, room);
        if (grown == NULL) {
            return -1;
        }
        sweep->shown = grown;
        sweep->shown_room = room;
    }
    memcpy(sweep->shown + sweep->shown_size, spans->texts[index], length);
    sweep->shown_size += length;
    sweep->active[sweep->active_count++] = index;
    heap_push(sweep, (Ending){spans->ends[index], index});
    return 0;
}

/* The span ends: its text is cut out of `shown` at the offset of the active spans before it. */
static void hide(Sweep *sweep, const Spans *spans, Py_ssize_t index) {
    Py_ssize_t low = 0, high = sweep->active_count;
    while (low < high) {
        Py_ssize_t middle = low + (high - low) / 2;
        if (sweep->active[middle] < index) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    size_t offset = 0;
    for (Py_ssize_t i = 0; i < low; i++) {
        offset += (size_t)spans->lengths[sweep->active[i]];
    }
    size_t length = (size_t)spans->lengths[index];
    memmove(sweep->shown + offset, sweep->shown + offset + length, sweep->shown_size - offset - length);
    sweep->shown_size -= length;
    memmove(sweep->active + low, sweep->active + low + 1, (size_t)(sweep->active_count - low - 1) * sizeof(Py_ssize_t));
    sweep->active_count--;
}

/* The next boundary: the earliest of the next start and the earliest end. */
static long long upcoming_boundary(const Sweep *sweep, const Spans *spans) {
    int starting = sweep->next < spans->count;
    long long upcoming = starting ? spans->starts[sweep->next] : 0;
    if (sweep->ending_count > 0 && (!starting || sweep->ending[0].end <= upcoming)) {
        upcoming = sweep->ending[0].end;
    }
    return upcoming;
}

/* Moves the sweep to the boundary: spans ending there leave `shown`, spans starting there join it. */
static int advance(Sweep *sweep, const Spans *spans, long long boundary) {
    sweep->moment = boundary;
    while (sweep->ending_count > 0 && sweep->ending[0].end == boundary) {
        hide(sweep, spans, heap_pop(sweep).index);
    }
    while (sweep->next < spans->count && spans->starts[sweep->next] == boundary) {
        if (show(sweep, spans, sweep->next) < 0) {
            return -1;
        }
        sweep->next++;
    }
    return 0;
}

/* --- formatting a cue (no GIL) ------------------------------------------------------------------ */



/* `b"%d\n%b --> %b\n%b\n" % (number, label(start), label(end), shown)`; the room was checked. */
static void put_cue(Chunk *chunk, const Sweep *sweep, long long end) {
    char *start = PyBytes_AS_STRING(chunk->bytes) + chunk->size;
    char *out = put_digits(start, (unsigned long long)sweep->cues + 1, 1);
    *out++ = '\n';
    out = put_label(out, sweep->moment, ',');
    memcpy(out, " --> ", 5);
    out = put_label(out + 5, end, ',');
    *out++ = '\n';
    memcpy(out, sweep->shown, sweep->shown_size);
    out += sweep->shown_size;
    *out++ = '\n';
    chunk->size += (size_t)(out - start);
}

/* Sweeps on until the chunk holds `bytes_per_write` bytes or every cue; runs without the GIL. */
static Built build_chunk(Sweep *sweep, const Spans *spans, Chunk *chunk, size_t bytes_per_write) {
    while (!sweep_done(sweep, spans)) {
        long long boundary = upcoming_boundary(sweep, spans);
        if (sweep->shown_size > 0 && boundary > sweep->moment) {
            size_t needed = chunk->size + CUE_OVERHEAD + sweep->shown_size;
            if (needed > chunk->room) {
                /* Nothing has moved yet: the next call takes this boundary up again. */
                chunk->wanted = needed;
                return NEEDS_ROOM;
            }
            put_cue(chunk, sweep, boundary);
            sweep->cues++;
        }
        if (advance(sweep, spans, boundary) < 0) {
            return OUT_OF_MEMORY;
        }
        if (chunk->size >= bytes_per_write) {
            return BUILT_FULL;
        }
    }
    return BUILT_ALL;
}

/* --- chunks and writes (GIL held) --------------------------------------------------------------- */




/* Builds and writes the chunks; returns 0, or -1 with an exception set. */
static int write_all(PyObject *write, const Spans *spans, Sweep *sweep, Chunk *chunk, size_t bytes_per_write) {
    int written = 0;
    for (;;) {
        Built built;
        Py_BEGIN_ALLOW_THREADS
        built = build_chunk(sweep, spans, chunk, bytes_per_write);
        Py_END_ALLOW_THREADS
        if (built == OUT_OF_MEMORY) {
            PyErr_NoMemory();
            return -1;
        }
        if (built == NEEDS_ROOM) {
            if (chunk_grow(chunk) < 0) {
                return -1;
            }
            continue;
        }
        if (built == BUILT_FULL) {
            if (chunk_write(chunk, write, 0) < 0) {
                return -1;
            }
            written = 1;
            continue;
        }
        /* write_in_chunks also writes an empty last chunk after a full one; that write changes nothing. */
        if (chunk->size > 0 || !written) {
            return chunk_write(chunk, write, 1);
        }
        return 0;
    }
}

static PyObject *write_cues(PyObject *module, PyObject *args) {
    PyObject *write, *starts, *ends, *lines;
    Py_ssize_t bytes_per_write;
    if (!PyArg_ParseTuple(args, "OOOOn:write_cues", &write, &starts, &ends, &lines, &bytes_per_write)) {
        return NULL;
    }
    if (!writer_arguments_ok(write, bytes_per_write)) {
        return NULL;
    }
    Spans spans = {0};
    Sweep sweep = {0};
    Chunk chunk = {0};
    PyObject *result = NULL;
    if (spans_read(&spans, starts, ends, lines) == 0) {
        if (sweep_init(&sweep, spans.count) < 0) {
            PyErr_NoMemory();
        } else if (chunk_open_first(&chunk, bytes_per_write) == 0 &&
                   write_all(write, &spans, &sweep, &chunk, (size_t)bytes_per_write) == 0) {
            result = PyLong_FromSsize_t(sweep.cues);
        }
    }
    Py_XDECREF(chunk.bytes);
    sweep_free(&sweep);
    spans_free(&spans);
    return result;
}

PyDoc_STRVAR(write_cues_doc,
             "write_cues(write, starts, ends, lines, bytes_per_write) -> int\n\n"
             "The cues of srt.layout_cues(starts, ends, lines), numbered from 1 and formatted as SRT, passed to\n"
             "write() in chunks of at least bytes_per_write bytes (the last may be smaller); returns how many\n"
             "cues there were. Starts sorted, each end after its start, times in ms >= 0, lines bytes.");

static PyMethodDef methods[] = {
    {"write_cues", write_cues, METH_VARARGS, write_cues_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_srt_native",
    .m_doc = "The SRT writer's cue loop (see srt.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__srt_native(void) { return PyModule_Create(&module); }
