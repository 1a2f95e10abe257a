/* Whether a chunk of records holds only plain values: the one pass RowValidator makes after msgspec accepts a
 * chunk (see versioning/validation/rows.py).
 *
 * msgspec's convert takes a few Python values that the reference validator refuses or that no UTF-8 writer can
 * store: a str with a lone surrogate, a subclass of str or int, a tuple or set for an array, a memoryview for
 * bytes, a dict subclass for a map or record. This walks every record once, in C, and answers 1 only when every
 * record is exactly a dict and every value in it, all the way down, is
 *   - an exact str without a lone surrogate (a string of one byte per character cannot hold one, so only wider
 *     strings are scanned),
 *   - an exact int that fits 64 bits (signed or unsigned, as msgspec's encoders take), float, bool or None,
 *   - an exact list or dict (dict keys: exact strs, checked as above), walked in turn,
 *   - or an instance of exactly one of the leaf types the caller names (bytes, datetimes, ...).
 * Anything else answers 0, which is never wrong: the chunk then goes to the reference validator, which gives the
 * verdict and the errors. So this may be stricter than needed, never more lenient.
 *
 * With msgspec's output at hand, a field whose value msgspec keeps as given (a str, say) is read from the
 * converted Struct's slot, a fixed offset, instead of looked up in the record's dict: most of the pass's speed.
 *
 * CPython's documented C API only (no internal headers): it builds against CPython 3.11, 3.12 and 3.13.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h> /* T_OBJECT_EX */

/* Deeper values than this go to the reference (which has its own answer for them) instead of deeper C recursion. */
#define MAX_DEPTH 128

static inline int text_plain(PyObject *text) {
    Py_ssize_t length;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        return 1; /* every character below U+0100: no surrogate */
    case PyUnicode_2BYTE_KIND: {
        const Py_UCS2 *units = PyUnicode_2BYTE_DATA(text);
        length = PyUnicode_GET_LENGTH(text);
        for (Py_ssize_t i = 0; i < length; i++) {
            if ((units[i] & 0xF800) == 0xD800) return 0; /* U+D800..U+DFFF */
        }
        return 1;
    }
    default: {
        const Py_UCS4 *units = PyUnicode_4BYTE_DATA(text);
        length = PyUnicode_GET_LENGTH(text);
        for (Py_ssize_t i = 0; i < length; i++) {
            if ((units[i] & 0xFFFFF800) == 0xD800) return 0;
        }
        return 1;
    }
    }
}

/* 1: plain; 0: not plain; -1: a Python error is set. */
static int value_plain(PyObject *value, PyObject *leaves, int depth);

static int int_plain(PyObject *value) {
    int overflow;
    PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow == 0) return PyErr_Occurred() ? -1 : 1;
    if (overflow < 0) return 0;
    PyLong_AsUnsignedLongLong(value);
    if (!PyErr_Occurred()) return 1;
    if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
    PyErr_Clear();
    return 0;
}

static int dict_plain(PyObject *dict, PyObject *leaves, int depth) {
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &position, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || !text_plain(key)) return 0;
        int found = value_plain(value, leaves, depth);
        if (found != 1) return found;
    }
    return 1;
}

static int value_plain(PyObject *value, PyObject *leaves, int depth) {
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyUnicode_Type) return text_plain(value);
    if (value == Py_None || kind == &PyFloat_Type || kind == &PyBool_Type) return 1;
    if (kind == &PyLong_Type) return int_plain(value);
    if (kind == &PyDict_Type || kind == &PyList_Type) {
        if (depth >= MAX_DEPTH) return 0;
        if (kind == &PyDict_Type) return dict_plain(value, leaves, depth + 1);
        /* The list is only read; an item is borrowed for as long as nothing runs Python code, which nothing here does. */
        Py_ssize_t length = PyList_GET_SIZE(value);
        for (Py_ssize_t i = 0; i < length; i++) {
            int found = value_plain(PyList_GET_ITEM(value, i), leaves, depth + 1);
            if (found != 1) return found;
        }
        return 1;
    }
    /* A type whose metaclass is not plain `type` could run Python code when hashed: not plain, no lookup. */
    if (Py_TYPE(kind) != &PyType_Type) return 0;
    return PySet_Contains(leaves, (PyObject *)kind);
}

/* The value of a converted record's field, borrowed: the slot at ``offset`` of a msgspec Struct (see slot_offset). */
static inline PyObject *slot_value(PyObject *converted, Py_ssize_t offset) {
    return *(PyObject **)((char *)converted + offset);
}

/* The fields read from a converted record's Struct: their slot offsets, unpacked once per call. */
typedef struct {
    Py_ssize_t count;
    Py_ssize_t *offsets;
    Py_ssize_t end; /* the bytes an object needs for every slot to lie inside it */
    PyTypeObject *checked; /* the last converted type found big enough */
} Slots;

static int record_plain(PyObject *record, PyObject *converted, Slots *slots, PyObject *originals,
                        PyObject *leaves, PyObject *unset) {
    if (converted == NULL) return dict_plain(record, leaves, 1);
    if (Py_TYPE(converted) != slots->checked) {
        if (Py_TYPE(converted)->tp_basicsize < slots->end) {
            PyErr_SetString(PyExc_TypeError, "records_plain: a converted record too small for the slots given");
            return -1;
        }
        slots->checked = Py_TYPE(converted);
    }
    /* msgspec accepted the record, so each of its keys is a field: the record's size is the number of fields it
     * has, counted below, unless it holds msgspec.UNSET itself as a value (which the Struct cannot tell apart
     * from a field left out). */
    Py_ssize_t present = 0;
    for (Py_ssize_t i = 0; i < slots->count; i++) {
        PyObject *value = slot_value(converted, slots->offsets[i]);
        if (value == NULL) return 0;
        if (value == unset) continue; /* left out: the default */
        present++;
        /* The common case inline: text of one byte per character, or None. */
        if ((Py_TYPE(value) == &PyUnicode_Type && PyUnicode_KIND(value) == PyUnicode_1BYTE_KIND) || value == Py_None)
            continue;
        int found = value_plain(value, leaves, 1);
        if (found != 1) return found;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(originals);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value = PyDict_GetItemWithError(record, PyTuple_GET_ITEM(originals, i));
        if (value == NULL) {
            if (PyErr_Occurred()) return -1;
            continue; /* left out: msgspec took its default */
        }
        present++;
        int found = value_plain(value, leaves, 1);
        if (found != 1) return found;
    }
    return PyDict_GET_SIZE(record) == present;
}

/* Unpacks the (offset, name) pairs; 0 with a Python error set when they are malformed. */
static int unpack_slots(PyObject *tuple, Slots *slots) {
    slots->count = PyTuple_GET_SIZE(tuple);
    slots->offsets = PyMem_New(Py_ssize_t, slots->count + 1);
    if (slots->offsets == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    for (Py_ssize_t i = 0; i < slots->count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(tuple, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "records_plain: slots must be (offset, name) pairs");
            return 0;
        }
        slots->offsets[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        if (slots->offsets[i] < (Py_ssize_t)sizeof(PyObject)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "records_plain: a slot offset inside the object header");
            return 0;
        }
        if (slots->offsets[i] + (Py_ssize_t)sizeof(PyObject *) > slots->end)
            slots->end = slots->offsets[i] + (Py_ssize_t)sizeof(PyObject *);
    }
    return 1;
}

PyDoc_STRVAR(records_plain_doc,
"records_plain(records, converted, slots, originals, leaves, unset, /) -> bool\n"
"\n"
"True when every record is exactly a dict and every value in it, all the way down, is an exact str without a\n"
"lone surrogate, an int within 64 bits, a float, bool or None, an exact list or dict (str keys), or of exactly\n"
"one of the types in the frozenset ``leaves``. False says nothing about validity: the reference decides.\n"
"\n"
"``converted`` is None (every record is walked key by key) or what msgspec.convert made of ``records``, one\n"
"Struct each, which must have accepted them (so every key is a field). Then the fields named in ``slots``, a\n"
"tuple of (slot offset, name) pairs, are read from the Struct, which holds the record's own value objects for\n"
"them; the fields named in ``originals`` (where msgspec may hand back a different object than it was given) are\n"
"read from the record. ``unset`` is msgspec.UNSET, what a Struct holds for a field the record left out.");

static PyObject *records_plain(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "records_plain takes exactly six arguments");
        return NULL;
    }
    PyObject *converted_list = args[1], *slots = args[2], *originals = args[3], *leaves = args[4];
    if (!PyAnySet_Check(leaves) || !PyTuple_Check(slots) || !PyTuple_Check(originals)) {
        PyErr_SetString(PyExc_TypeError, "records_plain: slots and originals must be tuples, leaves a frozenset");
        return NULL;
    }
    PyObject *records = PySequence_Fast(args[0], "records_plain: records must be a sequence");
    if (records == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(records);
    if (converted_list != Py_None && (!PyList_CheckExact(converted_list) || PyList_GET_SIZE(converted_list) != count)) {
        Py_DECREF(records);
        PyErr_SetString(PyExc_TypeError, "records_plain: converted must be None or a list as long as records");
        return NULL;
    }
    Slots unpacked = {0, NULL, 0, NULL};
    int found = unpack_slots(slots, &unpacked) ? 1 : -1;
    PyObject **items = PySequence_Fast_ITEMS(records);
    for (Py_ssize_t i = 0; i < count && found == 1; i++) {
        PyObject *converted = converted_list == Py_None ? NULL : PyList_GET_ITEM(converted_list, i);
        found = Py_TYPE(items[i]) == &PyDict_Type
                    ? record_plain(items[i], converted, &unpacked, originals, leaves, args[5])
                    : 0;
    }
    PyMem_Free(unpacked.offsets);
    Py_DECREF(records);
    if (found < 0) return NULL;
    return PyBool_FromLong(found);
}

PyDoc_STRVAR(slot_offset_doc,
"slot_offset(struct_type, name, /) -> int\n"
"\n"
"Where a field of a msgspec Struct type is stored in its instances: the offset of its object slot, as its member\n"
"descriptor gives it (what attribute access reads).");

static PyObject *slot_offset(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyType_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "slot_offset(struct_type, name) takes a type and a field name");
        return NULL;
    }
    PyObject *descriptor = PyDict_GetItemWithError(((PyTypeObject *)args[0])->tp_dict, args[1]);
    if (descriptor == NULL) {
        if (!PyErr_Occurred()) PyErr_Format(PyExc_AttributeError, "%R has no field %R", args[0], args[1]);
        return NULL;
    }
    if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type) ||
        ((PyMemberDescrObject *)descriptor)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "field %R of %R is not an object slot", args[1], args[0]);
        return NULL;
    }
    return PyLong_FromSsize_t(((PyMemberDescrObject *)descriptor)->d_member->offset);
}

static PyMethodDef methods[] = {
    {"records_plain", (PyCFunction)(void (*)(void))records_plain, METH_FASTCALL, records_plain_doc},
    {"slot_offset", (PyCFunction)(void (*)(void))slot_offset, METH_FASTCALL, slot_offset_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "versioning.validation._plain",
    .m_doc = "The compiled plain-value scan of RowValidator (see versioning/validation/rows.py).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__plain(void) { return PyModuleDef_Init(&module); }
