"""The C speedups of the export (issue 14), built next to their Python modules by `pip install -e .`.

Each extension is optional: where there is no C compiler the build goes on without it, and the module
that uses it falls back to the pure-Python code it mirrors (and that its tests compare it with).
`tests/test_native.py` insists on every one, so CI cannot pass with one silently missing.
"""

from setuptools import Extension, setup

# module name → its C source
NATIVE_MODULES = {
    "shared._catalog_native": "shared/_catalog_native.c",
    "shared._event_order_native": "shared/_event_order_native.c",
    "features.create_export.writers._srt_native": "features/create_export/writers/_srt_native.c",
    "features.create_export.writers._vtt_native": "features/create_export/writers/_vtt_native.c",
    "features.create_export.writers._rows_native": "features/create_export/writers/_rows_native.c",
    "features.create_export._timecode_native": "features/create_export/_timecode_native.c",
    "features.create_export._text_native": "features/create_export/_text_native.c",
}
# No -Werror: a newer compiler's new warning must not turn into a missing (optional) extension.
# No fused multiply-add: the frame arithmetic must round as Python's floats do, step by step.
COMPILE_ARGS = ["-O2", "-std=c11", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"]

# Shared by some of the sources (a change rebuilds every module).
HEADERS = ["features/create_export/writers/_cue_chunks.h"]

if __name__ == "__main__":
    setup(
        ext_modules=[
            Extension(name, [source], depends=HEADERS, optional=True, extra_compile_args=COMPILE_ARGS)
            for name, source in NATIVE_MODULES.items()
        ]
    )
