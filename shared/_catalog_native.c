#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *ping(PyObject *self, PyObject *args) { return PyLong_FromLong(1); }

static PyMethodDef methods[] = {{"ping", ping, METH_NOARGS, "1"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_catalog_native", NULL, -1, methods};
PyMODINIT_FUNC PyInit__catalog_native(void) { return PyModule_Create(&module); }
