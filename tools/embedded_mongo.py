"""A MongoDB wire-protocol server for development and tests, without Docker: FerretDB v1 embedded.

`tools/ferretdb/` is a tiny Go program of ours that runs FerretDB with its SQLite backend; it is
built once into `.build/` (about a minute the first time, mostly module downloads) and reused.
`EmbeddedMongo` starts it on a free port with a data folder, waits until it answers a ping, and
stops it. Used by `make run` (data kept in `.data/ferretdb`, so jobs survive a restart), by the
test suite (a temporary folder per session) and by the benchmarks.

The server never outlives the process that started it: it reads the launcher's end of a pipe on its
stdin and stops when that closes, which the kernel does when the launcher dies, by any signal. And a
data folder has at most one server: the server holds `<data>/server.lock` (a flock, dropped by the
kernel when it dies) and a second start on that folder fails with `DataFolderInUse`, naming the holder.

    python -m tools.embedded_mongo build
    python -m tools.embedded_mongo serve --data .data/ferretdb --port 27117
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from tools.data_folder_lock import EXIT_FOLDER_IN_USE, DataFolderInUse, FolderHolder, folder_holder

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tools" / "ferretdb"
PROGRAM_FILES = ("main.go", "lifetime.go", "go.mod", "go.sum")
BINARY = ROOT / ".build" / "ferretdb-embedded"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
PUSHDOWN_PATCH = "sqlite_pushdown.go"
SERIALIZED_WRITES_PATCH = "serialized_writes.go"
EXACT_BACKEND_PATCHES = ("sqlite_exact.go", "sqlite_exact_classes.go", "sqlite_exact_plan.go")
EXACT_HANDLER_PATCH = "handler_exact.go"
FAST_SJSON_PATCH = "sjson_fast.go"
START_TIMEOUT_SECONDS = 30.0


class EmbeddedMongoError(RuntimeError):
    pass


def needs_build() -> bool:
    if not BINARY.exists():
        return True
    built = BINARY.stat().st_mtime
    sources = [path for path in SOURCE.iterdir() if path.is_file()] + [Path(__file__)]  # the patch lives here
    return any(path.stat().st_mtime > built for path in sources)


def build(force: bool = False) -> Path:
    """Build the server once; later calls reuse the binary unless its sources changed."""
    if not force and not needs_build():
        return BINARY
    if shutil.which("go") is None:
        raise EmbeddedMongoError("Go is needed to build the embedded MongoDB-compatible server (FerretDB)")
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    print("building the embedded FerretDB server (first time: about a minute)...", file=sys.stderr, flush=True)
    started = time.monotonic()
    workspace = _patched_workspace()
    subprocess.run(["go", "build", "-o", str(BINARY), "."], cwd=workspace, check=True)
    print(f"built {BINARY.relative_to(ROOT)} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return BINARY


def _patched_workspace() -> Path:
    """Our Go program, built against FerretDB with seven patches: writes made atomic
    (`serialized_writes.go`), `_id` lookups indexed, plain string equalities filtered by SQLite
    (`sqlite_pushdown.go`) rather than by decoding every document, counts and sorted pages answered
    by SQLite where that is exact (`sqlite_exact.go`, `handler_exact.go`), no lifetime tracking
    outside debug builds, and stored documents decoded in one pass (`sjson_fast.go`).

    FerretDB v1's SQLite backend only uses its `_id` column when the filter is exactly `{_id: x}`; any
    other filter scans and decodes every document of the collection. Fenced job writes filter on
    `{_id, lease_token}`, so each one scanned the whole jobs collection (65 ms median under load with
    100 jobs). FerretDB re-applies the full filter in memory after every query, so narrowing the SQL to
    the `_id` first is safe whatever else the filter says. The module is copied out of the module cache,
    patched, and used through a `replace` directive in a build folder; `tools/ferretdb` stays as it is.
    """
    build_root = BINARY.parent / "ferretdb-build"
    source = build_root / "FerretDB"
    program = build_root / "program"
    shutil.rmtree(build_root, ignore_errors=True)
    program.mkdir(parents=True)
    for name in PROGRAM_FILES:
        shutil.copy2(SOURCE / name, program / name)
    # Download first (a no-op when cached): `go list` gives no folder for a module not yet downloaded.
    subprocess.run(["go", "mod", "download", FERRETDB_MODULE], cwd=program, check=True)
    module_dir = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", FERRETDB_MODULE],
        cwd=program,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    shutil.copytree(module_dir, source)
    for path in source.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
    _patch_id_pushdown(source / "internal" / "backends" / "sqlite" / "collection.go")
    _patch_id_column(source / "internal" / "backends" / "sqlite" / "metadata" / "metadata.go")
    _patch_string_pushdown(source / "internal" / "backends" / "sqlite")
    _patch_exact_pushdown(source / "internal")
    _patch_resource_tracking(source / "internal" / "util" / "resource" / "resource.go")
    _patch_serialized_writes(source / "internal" / "clientconn")
    _patch_fast_sjson(source / "internal" / "handler" / "sjson")
    with (program / "go.mod").open("a") as go_mod:
        go_mod.write(f"\nreplace {FERRETDB_MODULE} => ../FerretDB\n")
    return program


def _patch_id_column(metadata_go: Path) -> None:
    """Spell the `_id` lookup the way the `_id` index is built, so SQLite uses the index.

    The index is created on `_ferretdb_sjson->"_id"` but lookups ask for `_ferretdb_sjson->'$._id'`;
    SQLite only uses an expression index for the same expression, so every `_id` lookup scanned the
    table (EXPLAIN QUERY PLAN: SCAN). Both expressions give the same JSON text.
    """
    _replace_exactly(metadata_go, "IDColumn = DefaultColumn + \"->'$._id'\"", 'IDColumn = DefaultColumn + `->"_id"`', 1)


def _patch_id_pushdown(collection_go: Path) -> None:
    exact_id_only = 'if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")'
    any_id = 'if params.Filter.Has("_id") {\n\t\tv, _ := params.Filter.Get("_id")'
    _replace_exactly(collection_go, exact_id_only, any_id, 2)


def _patch_string_pushdown(sqlite_backend: Path) -> None:
    """Add `sqlite_pushdown.go` to the SQLite backend and narrow every query's SQL with it."""
    _add_patch_file(PUSHDOWN_PATCH, sqlite_backend)
    query_end = "\tq += whereClause\n"
    narrowed = "\twhereClause, args = pushDownPlainStrings(params.Filter, whereClause, args)\n" + query_end
    _replace_exactly(sqlite_backend / "collection.go", query_end, narrowed, 1)


def _patch_exact_pushdown(internal: Path) -> None:
    """Answer counts and sorted pages in SQLite when that is exact (`sqlite_exact.go`).

    The find and count handlers hand the backend the whole filter, the sort and the most documents the
    command returns (`handler_exact.go`); the backend answers from SQL, or leaves the query to FerretDB's
    own way; every insert and update keeps its record of the fields' value classes current.
    """
    backends = internal / "backends"
    _replace_exactly(
        backends / "collection.go",
        "\tOnlyRecordIDs bool\n\tComment       string\n}\n",
        "\tOnlyRecordIDs bool\n\tComment       string\n\n"
        "\t// Ours (tools/ferretdb/sqlite_exact.go): set by the find and count handlers only.\n"
        "\tExactFilter *types.Document\n\tExactSort   *types.Document\n\tExactLimit  int64\n\tCountOnly   bool\n}\n",
        1,
    )
    _replace_exactly(
        backends / "collection.go",
        "type QueryResult struct {\n\tIter types.DocumentsIterator\n}\n",
        "type QueryResult struct {\n\tIter types.DocumentsIterator\n\n"
        "\t// Ours: the backend counted a CountOnly query itself.\n\tCounted bool\n\tCount   int64\n}\n",
        1,
    )
    sqlite_backend = backends / "sqlite"
    for name in EXACT_BACKEND_PATCHES:
        _add_patch_file(name, sqlite_backend)
    collection_go = sqlite_backend / "collection.go"
    select_start = "\tq := prepareSelectClause(meta.TableName, params.Comment, meta.Capped(), params.OnlyRecordIDs)\n"
    exact_first = "\tif res, ok := c.queryExact(ctx, db, meta, params); ok {\n\t\treturn res, nil\n\t}\n\n"
    _replace_exactly(collection_go, select_start, exact_first + select_start, 1)
    insert = "\terr := db.InTransaction(ctx, func(tx *fsql.Tx) error {\n\t\tbatchSize := c.r.BatchSize\n"
    update = "\terr := db.InTransaction(ctx, func(tx *fsql.Tx) error {\n\t\tfor _, doc := range params.Docs {\n"
    noted = "\tdefer noteWrite(c.dbName, meta.TableName, params.Docs)()\n\n"
    _replace_exactly(collection_go, insert, noted + insert, 1)
    _replace_exactly(collection_go, update, noted + update, 1)

    handler = internal / "handler"
    _add_patch_file(EXACT_HANDLER_PATCH, handler)
    returns_on_error = "\tif err != nil {\n\t\treturn nil, err\n\t}\n"
    find_params = "\tqp, err := h.makeFindQueryParams(connCtx, params, &cInfo)\n" + returns_on_error
    _replace_exactly(
        handler / "msg_find.go", find_params, find_params + "\tsetExactFind(qp, params, h.DisablePushdown)\n", 1
    )
    count_go = handler / "msg_count.go"
    count_params = "\tif !h.DisablePushdown {\n\t\tqp.Filter = params.Filter\n\t}\n"
    _replace_exactly(count_go, count_params, count_params + "\tsetExactCount(&qp, params, h.DisablePushdown)\n", 1)
    count_query = (
        "\tqueryRes, err := c.Query(connCtx, &qp)\n\tif err != nil {\n\t\treturn nil, lazyerrors.Error(err)\n\t}\n"
    )
    counted = "\tif queryRes.Counted {\n\t\treturn exactCountAnswer(queryRes.Count)\n\t}\n"
    _replace_exactly(count_go, count_query, count_query + counted, 1)


def _patch_serialized_writes(clientconn: Path) -> None:
    """Run the commands that write one at a time, inside FerretDB (`serialized_writes.go`).

    FerretDB v1's conditional updates are a query and a separate write, so two racing claims could
    both win. A lock around each writing command's handler makes them atomic, as MongoDB's are. (It
    used to be a wire-protocol proxy in front of FerretDB, which also held the lock while it relayed
    the messages: 7 % more server CPU per job, and every command crossed two sockets instead of one.)
    """
    _add_patch_file(SERIALIZED_WRITES_PATCH, clientconn)
    handler_call = "\t\treturn cmd.Handler(connCtx, msg)\n"
    _replace_exactly(clientconn / "conn.go", handler_call, "\t\tdefer serializeWrite(command)()\n" + handler_call, 1)


def _patch_fast_sjson(sjson_package: Path) -> None:
    """Decode stored documents with `sjson_fast.go`, keeping upstream's decoder as `unmarshalOriginal`.

    Upstream's `sjson.Unmarshal` re-scans the JSON at every nesting level (maps of `json.RawMessage`)
    and decodes each scalar through its own `json.Decoder`: 72 % of the server's CPU for a `find` or
    a `count` over the jobs. The fast decoder reads what `sjson.Marshal` writes in one pass and hands
    anything else to the original, so every input gets the original's answer or its error; its
    differential tests (`sjson_fast_test.go`) run in `tests/tools/test_ferretdb_sjson.py`.
    """
    _add_patch_file(FAST_SJSON_PATCH, sjson_package)
    original = "func Unmarshal(data []byte) (*types.Document, error) {\n"
    renamed = "func unmarshalOriginal(data []byte) (*types.Document, error) {\n"
    _replace_exactly(sjson_package / "sjson.go", original, renamed, 1)


def _add_patch_file(name: str, package_dir: Path) -> None:
    """Copy one of our Go files into a FerretDB package, without the build tag that keeps it out of ours."""
    patch = (SOURCE / name).read_text()
    build_tag = "//go:build ignore\n"
    if not patch.startswith(build_tag):
        raise EmbeddedMongoError(f"{name} must start with its build tag line")
    (package_dir / name).write_text(patch.removeprefix(build_tag))


def _patch_resource_tracking(resource_go: Path) -> None:
    """Track object lifetimes only in FerretDB's debug builds.

    `resource.Track` registers every iterator and transaction with a pprof profile, which records a
    stack trace each time (6 % of the server's CPU per job write), and sets a finalizer that panics on
    a leak: a check for FerretDB's own test runs. Both `Track` and `Untrack` now return at once unless
    `debugbuild.Enabled`.
    """
    for function in ("Track", "Untrack"):
        head = f"func {function}(obj any, token *Token) {{\n\tcheckArgs(obj, token)\n"
        _replace_exactly(resource_go, head, head + "\n\tif !debugbuild.Enabled {\n\t\treturn\n\t}\n", 1)


def _replace_exactly(source: Path, old: str, new: str, count: int) -> None:
    """Patch a FerretDB source file, refusing loudly if upstream changed what the patch expects."""
    text = source.read_text()
    if text.count(old) != count:
        raise EmbeddedMongoError(
            f"FerretDB's {source.name} changed; a patch of tools/embedded_mongo.py no longer applies"
        )
    source.write_text(text.replace(old, new))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` now. With SO_REUSEADDR, as Go's listeners have it:
    connections of a server that just died (TIME_WAIT) do not keep its port from the next one."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class EmbeddedMongo:
    """One FerretDB process on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(
        self, data_dir: Path, port: int | None = None, log_path: Path | None = None, pushdown: bool = True
    ) -> None:
        """`pushdown=False` (`-no-pushdown`) turns off our string narrowing and exact count and sort
        pushdown, so filters, counts, sorts and limits are FerretDB's own, in Go (the `_id` lookup and
        the one-pass decoding stay): the reference that tests of those pushdowns compare with."""
        self.data_dir = Path(data_dir)
        self.pushdown = pushdown
        self.port = port or free_port()
        self.log_path = log_path or self.data_dir.parent / f"{self.data_dir.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> EmbeddedMongo:
        binary = build()
        holder = folder_holder(self.data_dir)
        if holder is not None:
            raise DataFolderInUse(self.data_dir, holder)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        command = [str(binary), "-listen", f"127.0.0.1:{self.port}", "-data", str(self.data_dir), "-exit-with-stdin"]
        if not self.pushdown:
            command.append("-no-pushdown")
        # The pipe's write end is ours alone: os.pipe() makes it non-inheritable and every Popen
        # closes other descriptors (close_fds), so it closes exactly when this process goes.
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # Ctrl-C in a terminal goes to our parent, which stops us in order
        )
        log.close()
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                self._close_pipe()
                if self.process.returncode == EXIT_FOLDER_IN_USE:  # it lost a race for the folder's lock
                    raise DataFolderInUse(self.data_dir, folder_holder(self.data_dir) or FolderHolder(0, ""))
                raise EmbeddedMongoError(f"FerretDB exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(PyMongoError), MongoClient(self.url, serverSelectionTimeoutMS=300) as client:
                client.admin.command("ping")
                return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedMongoError(f"FerretDB did not answer on port {self.port} within {START_TIMEOUT_SECONDS:g} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            self._close_pipe()
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def __enter__(self) -> EmbeddedMongo:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the server binary if needed")
    build_parser.add_argument("--force", action="store_true")
    serve = commands.add_parser("serve", help="run the server in the foreground")
    serve.add_argument("--data", type=Path, default=ROOT / ".data" / "ferretdb")
    serve.add_argument("--port", type=int, default=27117)
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(force=args.force))
        return 0
    try:
        server = EmbeddedMongo(args.data, args.port).start()
    except DataFolderInUse as in_use:
        print(f"embedded_mongo: {in_use}", file=sys.stderr)
        return 1
    print(server.url, flush=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"] and server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
