/* The WebVTT writer's cue loop in C (issue 14): the identifier rules, the cue format, the escaping, the
 * UTF-8 encoding and `write_in_chunks` of `vtt.python_write_cues` in one pass, byte for byte what it
 * writes (its tests compare the two).
 *
 * The columns are read a batch of cues at a time with the GIL: each batch's strings are referenced by
 * us while it is built, so their (immutable) characters can be read without it, and holding the GIL to
 * read never grows with the file. The cues are then formatted straight from the strings' characters
 * with the GIL released; it is taken again only to grow the chunk, to call `write` and to read the next
 * batch. Memory: one batch, the identifiers used so far, one chunk.
 *
 * As in `_srt_native`, a chunk is built inside a bytes object nobody else can see yet, so no copy is
 * made when it is handed to `write`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_cue_chunks.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* Cues read per hold of the GIL: well under a millisecond of reading, and few GIL handovers. */
#define BATCH 8192
/* The most a cue holds besides its identifier and text: two labels (hours of at most 13 digits, then
 * ":MM:SS.mmm"), " --> " and four LFs: 55 bytes, rounded up. */
#define CUE_OVERHEAD 96
/* Escaped UTF-8 bytes per character at most: `&amp;` (an astral character is 4). */
#define BYTES_PER_CHARACTER 5
/* The identifier set's first slots (a power of two) and bytes; both double as needed. */
#define FIRST_SLOTS 1024
#define FIRST_ARENA 65536

/* A str's characters as PEP 393 keeps them: readable without the GIL while the str is referenced. */
typedef struct {
    const void *data;
    Py_ssize_t length;
    int kind;
} Characters;

/* One segment of the batch; `text.length == 0` is a segment without a cue. */
typedef struct {
    long long start;
    long long end;
    Characters id;
    Characters text;
    PyObject *id_object; /* our references, NULL where the segment has no text */
    PyObject *text_object;
} Cue;

/* The columns, as PySequence_Fast gives them (a list or tuple is not copied). */
typedef struct {
    PyObject *ids;
    PyObject *starts;
    PyObject *ends;
    PyObject *texts;
    Py_ssize_t count;
} Columns;

typedef struct {
    Cue *cues;
    Py_ssize_t size; /* how many were read */
    Py_ssize_t next; /* the next one to format */
} Batch;

/* The identifiers written so far, a hash set over an arena of their bytes. */
typedef struct {
    size_t offset;
    size_t length; /* 0: an empty slot (an identifier is never empty) */
    uint64_t hash;
} Slot;

typedef struct {
    char *arena;
    size_t arena_size;
    size_t arena_room;
    Slot *slots;
    size_t mask; /* slot count - 1 */
    size_t used;
} Identifiers;


typedef enum { BATCH_DONE, BUILT_FULL, NEEDS_ROOM, OUT_OF_MEMORY, LONE_SURROGATE } Built;

/* --- reading the columns (GIL held) ------------------------------------------------------------- */

static PyObject *as_fast(PyObject *sequence, const char *what) {
    PyObject *fast = PySequence_Fast(sequence, "");
    if (fast == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Format(PyExc_TypeError, "%s must be a sequence, not %.100s", what, Py_TYPE(sequence)->tp_name);
    }
    return fast;
}

static void columns_free(Columns *columns) {
    Py_CLEAR(columns->ids);
    Py_CLEAR(columns->starts);
    Py_CLEAR(columns->ends);
    Py_CLEAR(columns->texts);
}

static int same_count(PyObject *column, const char *what, Py_ssize_t count) {
    if (PySequence_Fast_GET_SIZE(column) != count) {
        PyErr_Format(PyExc_ValueError, "%s has %zd items, the texts %zd", what, PySequence_Fast_GET_SIZE(column),
                     count);
        return -1;
    }
    return 0;
}

static int columns_read(Columns *columns, PyObject *ids, PyObject *starts, PyObject *ends, PyObject *texts) {
    if ((columns->texts = as_fast(texts, "texts")) == NULL || (columns->ids = as_fast(ids, "ids")) == NULL ||
        (columns->starts = as_fast(starts, "starts")) == NULL || (columns->ends = as_fast(ends, "ends")) == NULL) {
        return -1;
    }
    columns->count = PySequence_Fast_GET_SIZE(columns->texts);
    return same_count(columns->ids, "ids", columns->count) < 0 ||
                   same_count(columns->starts, "starts", columns->count) < 0 ||
                   same_count(columns->ends, "ends", columns->count) < 0
               ? -1
               : 0;
}


static int read_characters(PyObject *item, const char *what, Characters *out) {
    if (!PyUnicode_Check(item)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(item)->tp_name);
        return -1;
    }
    if (PyUnicode_READY(item) < 0) {
        return -1;
    }
    out->data = PyUnicode_DATA(item);
    out->length = PyUnicode_GET_LENGTH(item);
    out->kind = PyUnicode_KIND(item);
    return 0;
}

/* The most a cue can take in the chunk; its parts were checked to be small enough not to overflow. */
static size_t cue_room(const Cue *cue) {
    return CUE_OVERHEAD + (size_t)cue->id.length + BYTES_PER_CHARACTER * (size_t)cue->text.length;
}

static int read_cue(const Columns *columns, Py_ssize_t index, Cue *cue) {
    if (read_time(PySequence_Fast_GET_ITEM(columns->starts, index), "starts", &cue->start) < 0 ||
        read_time(PySequence_Fast_GET_ITEM(columns->ends, index), "ends", &cue->end) < 0 ||
        read_characters(PySequence_Fast_GET_ITEM(columns->texts, index), "texts", &cue->text) < 0) {
        return -1;
    }
    if (cue->text.length == 0) {
        return 0; /* no cue: its id is never looked at, as in Python */
    }
    if (read_characters(PySequence_Fast_GET_ITEM(columns->ids, index), "ids", &cue->id) < 0) {
        return -1;
    }
    if ((size_t)cue->text.length > ((size_t)PY_SSIZE_T_MAX / 2 - (size_t)cue->id.length) / BYTES_PER_CHARACTER) {
        PyErr_Format(PyExc_ValueError, "text %zd is too long to write", index);
        return -1;
    }
    cue->id_object = Py_NewRef(PySequence_Fast_GET_ITEM(columns->ids, index));
    cue->text_object = Py_NewRef(PySequence_Fast_GET_ITEM(columns->texts, index));
    return 0;
}

/* Lets the batch's strings go (the caller may have dropped its own references meanwhile). */
static void batch_release(Batch *batch) {
    for (Py_ssize_t i = 0; i < batch->size; i++) {
        Py_CLEAR(batch->cues[i].id_object);
        Py_CLEAR(batch->cues[i].text_object);
    }
    batch->size = batch->next = 0;
}

static int batch_read(Batch *batch, const Columns *columns, Py_ssize_t first) {
    batch_release(batch);
    /* The GIL was let go since the last batch: a caller's list may have changed size meanwhile. */
    if (same_count(columns->ids, "ids", columns->count) < 0 || same_count(columns->texts, "texts", columns->count) < 0 ||
        same_count(columns->starts, "starts", columns->count) < 0 ||
        same_count(columns->ends, "ends", columns->count) < 0) {
        return -1;
    }
    Py_ssize_t size = columns->count - first < BATCH ? columns->count - first : BATCH;
    for (Py_ssize_t i = 0; i < size; i++) {
        Cue *cue = &batch->cues[batch->size++];
        *cue = (Cue){0};
        if (read_cue(columns, first + i, cue) < 0) {
            return -1;
        }
    }
    return 0;
}

/* --- the identifiers used so far (no GIL) -------------------------------------------------------- */

static int identifiers_init(Identifiers *used) {
    used->slots = PyMem_RawCalloc(FIRST_SLOTS, sizeof(Slot));
    used->mask = FIRST_SLOTS - 1;
    used->arena = PyMem_RawMalloc(FIRST_ARENA);
    used->arena_room = FIRST_ARENA;
    return used->slots != NULL && used->arena != NULL ? 0 : -1;
}

static void identifiers_free(Identifiers *used) {
    PyMem_RawFree(used->slots);
    PyMem_RawFree(used->arena);
}

/* FNV-1a: identifiers are short, and any decent spread will do. */
static uint64_t hash_of(const char *bytes, size_t length) {
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < length; i++) {
        hash = (hash ^ (unsigned char)bytes[i]) * 1099511628211ULL;
    }
    return hash;
}

/* The slot holding the identifier, or the empty slot where it would go. */
static Slot *slot_of(const Identifiers *used, const char *bytes, size_t length, uint64_t hash) {
    for (size_t at = (size_t)hash & used->mask;; at = (at + 1) & used->mask) {
        Slot *slot = &used->slots[at];
        if (slot->length == 0 || (slot->hash == hash && slot->length == length &&
                                  memcmp(used->arena + slot->offset, bytes, length) == 0)) {
            return slot;
        }
    }
}

/* Twice the slots, so at most half are ever in use and every probe ends at an empty one. */
static int identifiers_rehash(Identifiers *used) {
    size_t count = (used->mask + 1) * 2;
    Slot *old = used->slots;
    size_t old_count = used->mask + 1;
    Slot *slots = PyMem_RawCalloc(count, sizeof(Slot));
    if (slots == NULL) {
        return -1;
    }
    used->slots = slots;
    used->mask = count - 1;
    for (size_t i = 0; i < old_count; i++) {
        if (old[i].length > 0) {
            *slot_of(used, used->arena + old[i].offset, old[i].length, old[i].hash) = old[i];
        }
    }
    PyMem_RawFree(old);
    return 0;
}

static int arena_reserve(Identifiers *used, size_t length) {
    if (used->arena_size + length <= used->arena_room) {
        return 0;
    }
    size_t room = used->arena_room * 2 > used->arena_size + length ? used->arena_room * 2 : used->arena_size + length;
    char *grown = PyMem_RawRealloc(used->arena, room);
    if (grown == NULL) {
        return -1;
    }
    used->arena = grown;
    used->arena_room = room;
    return 0;
}

/* Adds the identifier: 1 if it is new, 0 if it was used before, -1 out of memory. */
static int identifiers_add(Identifiers *used, const char *bytes, size_t length) {
    uint64_t hash = hash_of(bytes, length);
    Slot *slot = slot_of(used, bytes, length, hash);
    if (slot->length > 0) {
        return 0;
    }
    if (arena_reserve(used, length) < 0) {
        return -1;
    }
    memcpy(used->arena + used->arena_size, bytes, length);
    *slot = (Slot){used->arena_size, length, hash};
    used->arena_size += length;
    if (++used->used * 2 > used->mask + 1 && identifiers_rehash(used) < 0) {
        return -1;
    }
    return 1;
}

/* --- formatting a cue (no GIL) ------------------------------------------------------------------ */



/* `[A-Za-z0-9_.:-]`, the characters `_NOT_IN_IDENTIFIER` keeps (an ASCII class: no flags). */
static int in_identifier(Py_UCS4 character) {
    return (character >= 'A' && character <= 'Z') || (character >= 'a' && character <= 'z') ||
           (character >= '0' && character <= '9') || character == '_' || character == '.' || character == ':' ||
           character == '-';
}

static int starts_with(const char *bytes, size_t length, const char *prefix) {
    size_t prefix_length = strlen(prefix);
    return length >= prefix_length && memcmp(bytes, prefix, prefix_length) == 0;
}

/* `_identifier_line`: the id's identifier characters and an LF, unless it goes without one (then
 * nothing is written). Returns where the cue goes on, or NULL out of memory. */
static char *put_identifier(char *out, const Characters *id, Identifiers *used) {
    size_t length = 0;
    for (Py_ssize_t i = 0; i < id->length; i++) {
        Py_UCS4 character = PyUnicode_READ(id->kind, id->data, i);
        if (in_identifier(character)) {
            out[length++] = (char)character;
        }
    }
    if (length == 0 || starts_with(out, length, "NOTE") || starts_with(out, length, "STYLE") ||
        starts_with(out, length, "REGION")) {
        return out;
    }
    int added = identifiers_add(used, out, length);
    if (added < 0) {
        return NULL;
    }
    if (added == 0) {
        return out; /* used by an earlier cue, which keeps it */
    }
    out[length] = '\n';
    return out + length + 1;
}

/* `_escaped(text).encode("utf-8")`; NULL at a lone surrogate, which UTF-8 cannot carry. */
static char *put_text(char *out, const Characters *text) {
    for (Py_ssize_t i = 0; i < text->length; i++) {
        Py_UCS4 character = PyUnicode_READ(text->kind, text->data, i);
        if (character < 0x80) {
            if (character == '&') {
                memcpy(out, "&amp;", 5);
                out += 5;
            } else if (character == '<' || character == '>') {
                memcpy(out, character == '<' ? "&lt;" : "&gt;", 4);
                out += 4;
            } else {
                *out++ = (char)character;
            }
        } else if (character < 0x800) {
            *out++ = (char)(0xC0 | (character >> 6));
            *out++ = (char)(0x80 | (character & 0x3F));
        } else if (character < 0x10000) {
            if (character >= 0xD800 && character <= 0xDFFF) {
                return NULL;
            }
            *out++ = (char)(0xE0 | (character >> 12));
            *out++ = (char)(0x80 | ((character >> 6) & 0x3F));
            *out++ = (char)(0x80 | (character & 0x3F));
        } else {
            *out++ = (char)(0xF0 | (character >> 18));
            *out++ = (char)(0x80 | ((character >> 12) & 0x3F));
            *out++ = (char)(0x80 | ((character >> 6) & 0x3F));
            *out++ = (char)(0x80 | (character & 0x3F));
        }
    }
    return out;
}

/* `identifier line + b"%b --> %b\n%b\n\n" % (label(start), label(end), text)`; the room was checked. */
static Built put_cue(Chunk *chunk, const Cue *cue, Identifiers *used) {
    char *start = PyBytes_AS_STRING(chunk->bytes) + chunk->size;
    char *out = put_identifier(start, &cue->id, used);
    if (out == NULL) {
        return OUT_OF_MEMORY;
    }
    out = put_label(out, cue->start, '.');
    memcpy(out, " --> ", 5);
    out = put_label(out + 5, cue->end, '.');
    *out++ = '\n';
    out = put_text(out, &cue->text);
    if (out == NULL) {
        return LONE_SURROGATE;
    }
    memcpy(out, "\n\n", 2);
    chunk->size += (size_t)(out + 2 - start);
    return BATCH_DONE;
}

/* The bytes `put_text` writes for the character (a lone surrogate it refuses counts as 3). */
static size_t character_size(Py_UCS4 character) {
    if (character == '&') {
        return 5;
    }
    if (character == '<' || character == '>') {
        return 4;
    }
    if (character < 0x80) {
        return 1;
    }
    if (character < 0x800) {
        return 2;
    }
    return character < 0x10000 ? 3 : 4;
}

/* The bytes `put_text` writes: a second look at a long text, so that a chunk is not grown to five times
 * the text's size for it. */
static size_t text_size(const Characters *text) {
    size_t size = 0;
    for (Py_ssize_t i = 0; i < text->length; i++) {
        size += character_size(PyUnicode_READ(text->kind, text->data, i));
    }
    return size;
}

/* The room the cue needs in the chunk: a bound, or the exact size when the bound does not fit. */
static size_t room_needed(const Chunk *chunk, const Cue *cue) {
    size_t needed = chunk->size + cue_room(cue);
    if (needed <= chunk->room) {
        return needed;
    }
    return chunk->size + CUE_OVERHEAD + (size_t)cue->id.length + text_size(&cue->text);
}

/* Formats the batch's cues until the chunk holds `bytes_per_write` bytes or the batch is done; runs
 * without the GIL. On LONE_SURROGATE, `batch->next` is the cue whose text has it. */
static Built build_chunk(Batch *batch, Chunk *chunk, Identifiers *used, size_t bytes_per_write, Py_ssize_t *cues) {
    while (batch->next < batch->size) {
        const Cue *cue = &batch->cues[batch->next];
        if (cue->text.length > 0) {
            size_t needed = room_needed(chunk, cue);
            if (needed > chunk->room) {
                /* Nothing has changed yet (not the identifiers either): the next call takes it up again. */
                chunk->wanted = needed;
                return NEEDS_ROOM;
            }
            Built put = put_cue(chunk, cue, used);
            if (put != BATCH_DONE) {
                return put;
            }
            (*cues)++;
        }
        batch->next++;
        if (chunk->size >= bytes_per_write) {
            return BUILT_FULL;
        }
    }
    return BATCH_DONE;
}

/* --- chunks and writes (GIL held) --------------------------------------------------------------- */




/* The error the Python path raises: the escaped text's UnicodeEncodeError, its position and all. */
static void raise_encode_error(PyObject *text) {
    static const char *const escapes[][2] = {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}};
    Py_INCREF(text);
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0] && text != NULL; i++) {
        PyObject *escaped = PyObject_CallMethod(text, "replace", "ss", escapes[i][0], escapes[i][1]);
        Py_DECREF(text);
        text = escaped;
    }
    if (text == NULL) {
        return;
    }
    PyObject *encoded = PyUnicode_AsUTF8String(text);
    Py_DECREF(text);
    if (encoded != NULL) {
        Py_DECREF(encoded);
        PyErr_SetString(PyExc_SystemError, "a lone surrogate was found, yet the text encodes");
    }
}

/* Builds the batch's cues into chunks, writing each full one; 0, or -1 with an exception set. */
static int write_batch(PyObject *write, Batch *batch, Chunk *chunk, Identifiers *used, size_t bytes_per_write,
                       Py_ssize_t *cues) {
    for (;;) {
        Built built;
        Py_BEGIN_ALLOW_THREADS
        built = build_chunk(batch, chunk, used, bytes_per_write, cues);
        Py_END_ALLOW_THREADS
        switch (built) {
        case BATCH_DONE:
            return 0;
        case BUILT_FULL:
            if (chunk_write(chunk, write, 0) < 0) {
                return -1;
            }
            break;
        case NEEDS_ROOM:
            if (chunk_grow(chunk) < 0) {
                return -1;
            }
            break;
        case OUT_OF_MEMORY:
            PyErr_NoMemory();
            return -1;
        case LONE_SURROGATE:
            /* The chunk being built is not written: Python fails while making it, too. */
            raise_encode_error(batch->cues[batch->next].text_object);
            return -1;
        }
    }
}

static int write_all(PyObject *write, const Columns *columns, Batch *batch, Chunk *chunk, Identifiers *used,
                     size_t bytes_per_write, Py_ssize_t *cues) {
    for (Py_ssize_t first = 0; first < columns->count; first += BATCH) {
        if (batch_read(batch, columns, first) < 0 || write_batch(write, batch, chunk, used, bytes_per_write, cues) < 0) {
            return -1;
        }
    }
    /* write_in_chunks always writes its last chunk, even an empty one. */
    return chunk_write(chunk, write, 1);
}

static PyObject *write_cues(PyObject *module, PyObject *args) {
    PyObject *write, *ids, *starts, *ends, *texts;
    Py_ssize_t bytes_per_write;
    if (!PyArg_ParseTuple(args, "OOOOOn:write_cues", &write, &ids, &starts, &ends, &texts, &bytes_per_write)) {
        return NULL;
    }
    if (!writer_arguments_ok(write, bytes_per_write)) {
        return NULL;
    }
    Columns columns = {0};
    Batch batch = {0};
    Identifiers used = {0};
    Chunk chunk = {0};
    Py_ssize_t cues = 0;
    PyObject *result = NULL;
    if (columns_read(&columns, ids, starts, ends, texts) == 0) {
        batch.cues = PyMem_RawMalloc(BATCH * sizeof(Cue));
        if (batch.cues == NULL || identifiers_init(&used) < 0) {
            PyErr_NoMemory();
        } else if (chunk_open_first(&chunk, bytes_per_write) == 0 &&
                   write_all(write, &columns, &batch, &chunk, &used, (size_t)bytes_per_write, &cues) == 0) {
            result = PyLong_FromSsize_t(cues);
        }
    }
    if (batch.cues != NULL) {
        batch_release(&batch);
        PyMem_RawFree(batch.cues);
    }
    Py_XDECREF(chunk.bytes);
    identifiers_free(&used);
    columns_free(&columns);
    return result;
}

PyDoc_STRVAR(write_cues_doc,
             "write_cues(write, ids, starts, ends, texts, bytes_per_write) -> int\n\n"
             "vtt.python_write_cues in C: a WebVTT cue for each segment with text (its identifier line, unless\n"
             "it goes without one, its timing line and its escaped text), passed to write() in chunks of at\n"
             "least bytes_per_write bytes (the last may be smaller, even empty); returns how many cues there\n"
             "were. ids and texts str, times ints of ms >= 0, all four columns as long.");

static PyMethodDef methods[] = {
    {"write_cues", write_cues, METH_VARARGS, write_cues_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_vtt_native",
    .m_doc = "The WebVTT writer's cue loop (see vtt.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__vtt_native(void) { return PyModule_Create(&module); }
