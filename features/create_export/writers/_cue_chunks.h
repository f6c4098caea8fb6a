/* What the SRT and WebVTT cue writers in C share (`_srt_native.c`, `_vtt_native.c`): reading a time,
 * the clock label, and the chunk of bytes filled and handed to the writer's `write`. Static functions,
 * compiled into each module that includes this. */
#ifndef AI_SPARK_CUE_CHUNKS_H
#define AI_SPARK_CUE_CHUNKS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>

/* The first chunk's room beyond `bytes_per_write`: a typical cue fits without growing it. */
#define CHUNK_SLACK 65536
/* A chunk's first room when `bytes_per_write` is huge: it grows as cues arrive. */
#define CHUNK_FIRST_ROOM (1 << 20)

/* A bytes object being filled; it is handed to `write` (and replaced) once it holds a chunk. */
typedef struct {
    PyObject *bytes;
    size_t size;
    size_t room;
    size_t wanted; /* set when a cue does not fit: the room it needs */
} Chunk;

/* One time in milliseconds: an int, at least 0, that fits in a long long. */
static int read_time(PyObject *item, const char *what, long long *out) {
    if (!PyLong_Check(item)) {
        PyErr_Format(PyExc_TypeError, "%s must be ints of milliseconds, not %.100s", what, Py_TYPE(item)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow != 0 || value < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be milliseconds from 0 to %lld, not %R", what, LLONG_MAX, item);
        return -1;
    }
    *out = value;
    return 0;
}

/* The decimal digits of the value, at least `width` of them. */
static char *put_digits(char *out, unsigned long long value, int width) {
    char digits[24];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (count < width) {
        digits[count++] = '0';
    }
    while (count > 0) {
        *out++ = digits[--count];
    }
    return out;
}

/* `clock(ms, ",")`: HH:MM:SS,mmm, the hours with more digits from 100 on. */
static char *put_label(char *out, long long milliseconds, char separator) {
    unsigned long long millis = (unsigned long long)milliseconds;
    unsigned long long seconds = millis / 1000;
    out = put_digits(out, seconds / 3600, 2);
    *out++ = ':';
    out = put_digits(out, seconds % 3600 / 60, 2);
    *out++ = ':';
    out = put_digits(out, seconds % 60, 2);
    *out++ = separator;
    return put_digits(out, millis % 1000, 3);
}

static int chunk_open(Chunk *chunk, size_t room) {
    chunk->bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)room);
    chunk->size = 0;
    chunk->room = chunk->bytes != NULL ? room : 0;
    return chunk->bytes != NULL ? 0 : -1;
}

static int chunk_grow(Chunk *chunk) {
    size_t room = chunk->room + chunk->room / 2;
    if (room < chunk->wanted) {
        room = chunk->wanted;
    }
    if (room > (size_t)PY_SSIZE_T_MAX) {
        PyErr_NoMemory();
        return -1;
    }
    if (_PyBytes_Resize(&chunk->bytes, (Py_ssize_t)room) < 0) {
        return -1; /* it has freed the bytes and set chunk->bytes to NULL */
    }
    chunk->room = room;
    return 0;
}

/* Hands the chunk's bytes to `write` and opens the next one, as roomy as this one had to be. */
static int chunk_write(Chunk *chunk, PyObject *write, int last) {
    size_t room = chunk->room;
    if (_PyBytes_Resize(&chunk->bytes, (Py_ssize_t)chunk->size) < 0) {
        return -1;
    }
    PyObject *result = PyObject_CallOneArg(write, chunk->bytes);
    Py_CLEAR(chunk->bytes);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return last ? 0 : chunk_open(chunk, room);
}

/* `write` callable and `bytes_per_write` at least 1, else 0 with the exception set. */
static int writer_arguments_ok(PyObject *write, Py_ssize_t bytes_per_write) {
    if (!PyCallable_Check(write)) {
        PyErr_Format(PyExc_TypeError, "write must be callable, not %.100s", Py_TYPE(write)->tp_name);
        return 0;
    }
    if (bytes_per_write < 1) {
        PyErr_Format(PyExc_ValueError, "bytes_per_write must be at least 1, not %zd", bytes_per_write);
        return 0;
    }
    return 1;
}

/* The first chunk: room for `bytes_per_write` (up to CHUNK_FIRST_ROOM) and a typical cue past it. */
static int chunk_open_first(Chunk *chunk, Py_ssize_t bytes_per_write) {
    size_t wanted = (size_t)bytes_per_write < CHUNK_FIRST_ROOM ? (size_t)bytes_per_write : CHUNK_FIRST_ROOM;
    return chunk_open(chunk, wanted + CHUNK_SLACK);
}

#endif
