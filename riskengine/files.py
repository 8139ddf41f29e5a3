"""Files of a project: finding them, and reading one as a pydantic model with located problems.

The room below every loader (factors, scenarios, trees): ``yaml_files`` lists what a path holds,
``parse_file`` reads one file into a model and turns pydantic's errors into findings at the
line and column of the key, with a did-you-mean for unknown keys.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import os
import threading
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from riskengine.models import TREE_LEAF, TREE_NODE
from riskengine.problems import InputError, Problem
from riskengine.yamlio import PARSER_ENVS, Document, Location, read_yaml

YAML_SUFFIXES = (".yaml", ".yml")
UNION_TAGS = (TREE_NODE, TREE_LEAF)  # pydantic's union tags, dropped from finding locations


def yaml_files(path: str | Path) -> list[Path]:
    """The YAML files at ``path``: the file itself, or every one below a folder, sorted.

    Below a folder, every non-folder entry named ``*.yaml`` is listed, FIFOs and devices too,
    and so is every folder that cannot be listed: reading them reports why they are not YAML
    files (:func:`riskengine.yamlio.read_yaml`), where skipping them would pass them as valid.
    Hidden files and folders are left out; symlinked folders are not followed.
    """
    path = Path(path)
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    unreadable: list[Path] = []
    for folder, names in _yaml_names(path, unreadable):
        # joined to a parsed folder: Path(folder, name) parses the folder again for each name
        parent = Path(folder)
        found += [parent / name for name in names]
    return sorted(found + unreadable, key=_path_order)


def count_yaml_files(path: str | Path) -> int:
    """``len(yaml_files(path))`` without making and sorting the paths (a sixth of the time):
    whether a folder's valid scenarios are all of its files is asked of every folder."""
    if not os.path.isdir(path):
        return 1
    unreadable: list[Path] = []
    return sum(len(names) for _, names in _yaml_names(Path(path), unreadable)) + len(unreadable)


def yaml_names(path: str | Path) -> dict[str, list[str]] | None:
    """Each folder below ``path`` (as ``os.walk`` names it) with the names of the YAML files
    :func:`yaml_files` lists there; None when some folder cannot be listed."""
    unreadable: list[Path] = []
    found = dict(_yaml_names(Path(path), unreadable))
    return None if unreadable else found


def _yaml_names(path: Path, unreadable: list[Path]) -> Iterator[tuple[str, list[str]]]:
    """Each folder below ``path`` with the names of its YAML files; folders that cannot be
    listed are added to ``unreadable``."""
    for folder, dirs, files in os.walk(path, onerror=lambda exc: unreadable.append(
            Path(exc.filename))):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        # splitext, not Path(f).suffix: the same answer for these suffixes without a Path
        # parsed per name (a tenth of listing 5,000 files)
        yield folder, [f for f in files
                       if not f.startswith(".") and os.path.splitext(f)[1] in YAML_SUFFIXES]


def _path_order(path: Path) -> str:
    """A key that sorts paths as ``Path`` compares them, part by part (a separator before
    any character: ``a/b`` before ``a-b``), without Path's comparison per pair (a tenth of
    listing 5,000 files)."""
    return str(path).replace(os.sep, "\0")


def absolute(path: str | Path) -> Path:
    """An absolute path without resolving symlinks: as unique within one run, and free of the
    per-component system calls of ``Path.resolve()``."""
    return Path(os.path.abspath(path))


# ---------------------------------------------------------------------------------------------
# pydantic errors -> located problems


def _unwrap(annotation: Any) -> Any:
    """The model class inside ``X | None``, ``list[X]``, ``dict[str, X]``, ``Annotated[X, ..]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    if origin in (list, tuple):
        return _unwrap(typing.get_args(annotation)[0])
    if origin is dict:
        return _unwrap(typing.get_args(annotation)[1])
    return annotation


def _fields_at(model: type[BaseModel], loc: Location) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type)
                                         and issubclass(current, BaseModel)):
            continue
        info = current.model_fields.get(str(part))
        if info is None:
            # a free key of a dict field (a factor id): stay on the dict's value type
            continue
        current = _unwrap(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validation_problems(doc: Document, exc: ValidationError,
                        model: type[BaseModel]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Location = tuple(p for p in err["loc"] if p not in ("[key]", *UNION_TAGS))
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(model, loc[:-1])
            problems.append(doc.problem(loc, f"unknown key {key!r}{suggest(key, allowed)}",
                                        "RE101"))
        elif err["type"] == "missing":
            problems.append(doc.problem(loc, "required field is missing", "RE103"))
        else:
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] not in ("model_type", "dict_type") and "input" in err and not \
                    isinstance(err["input"], dict | list):
                message += f" (got {err['input']!r})"
            problems.append(doc.problem(loc, message, "RE102"))
    return problems


def _parse(path: Path, model: type[BaseModel], read: Callable[[Path], Document] = read_yaml
           ) -> tuple[Any, Document | None, list[Problem]]:
    try:
        doc = read(path)
    except InputError as exc:
        return None, None, exc.problems
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__ if doc.data is not None else "nothing"
        return None, doc, [doc.problem((), f"expected a mapping of keys, found {kind}", "RE102")]
    try:
        parsed = model.model_validate(doc.data)
    except ValidationError as exc:
        return None, doc, validation_problems(doc, exc, model)
    problems = []
    if getattr(parsed, "id", None) != path.stem:
        problems.append(doc.problem(("id",), f"id {getattr(parsed, 'id', None)!r} does not "
                                    "match the file name "
                                    f"{path.name!r}", "RE201"))
    return parsed, doc, problems


def parse_file(path: Path, model: type[BaseModel]) -> tuple[Any, Document | None, list[Problem]]:
    """Read ``path`` as ``model``: the parsed model (None on errors), its document, problems."""
    return _parse(path, model)




# ---------------------------------------------------------------------------------------------
# reading many files on worker processes

# Below this many files a pool costs more (half a second of a core to start the forkserver and
# its workers, and the documents' round trip) than reading them here saves: 1,000 generated
# scenario files took 2.0 s either way on a busy 2-core machine.
PARALLEL_MIN_FILES = 1000
# Files per work item, at least: each item is one round trip to a worker.
_MIN_BATCH = 25
# Readers run below the caller's priority: the caller builds the models, the slower half of
# loading, and reads any file the workers have not reached itself, so the workers should only
# take a core it does not need (on a 2-core machine with the other core busy, workers at the
# same priority starved the caller: validate of 5,000 files went from 16 s to 18 s).
READER_NICENESS = 10
_niced = False

# What a worker sends back for one file: its YAML as plain values with the key positions (or
# the text to find them in, when the fast parser read it), or the fields of its problems.
# Plain data only: no models, no pickled engine objects.
_Read = tuple[Any, dict[Location, tuple[int, int]] | None, str | None,
              list[tuple[Any, ...]] | None]


def read_batch(paths: Sequence[str], cwd: str, parser: dict[str, str]) -> list[_Read]:
    """Worker: :func:`read_yaml` of each path, as plain data (top level: a pool pickles it by
    name). The working folder and the parser choice are the caller's, whatever the worker
    process inherited: paths are shown relative to the caller's folder."""
    global _niced
    if not _niced and hasattr(os, "nice"):
        os.nice(READER_NICENESS)
        _niced = True
    if os.getcwd() != cwd:
        os.chdir(cwd)
    for name in PARSER_ENVS:
        if name in parser:
            os.environ[name] = parser[name]
        else:
            os.environ.pop(name, None)
    out: list[_Read] = []
    for path in paths:
        try:
            doc = read_yaml(path)
        except InputError as exc:
            out.append((None, None, None, [dataclasses.astuple(p) for p in exc.problems]))
            continue
        text = doc.text
        out.append((doc.data, None if text is not None else doc.positions, text, None))
    return out


class Readers:
    """The worker processes that read a command's files: ``jobs`` of them (default: every
    core), started when a set of files large enough to be worth them is first read ahead, and
    shared by every read ahead until :meth:`close` (starting a pool costs a few tenths of a
    second, once per command rather than once per catalogue and folder of scenarios)."""

    def __init__(self, jobs: int | None = None) -> None:
        from riskengine.executors import default_jobs

        self.jobs = default_jobs() if jobs is None else jobs
        self._pool: Executor | None = None

    def pool_for(self, files: int) -> Executor | None:
        """The pool to read ``files`` files on; None: read them in this process."""
        if self.jobs <= 1 or files < PARALLEL_MIN_FILES:
            return None
        if self._pool is None:
            from riskengine.executors import LazyPool

            self._pool = LazyPool(self.jobs)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            # Waiting for the batches being read (the rest are cancelled): at most one a
            # worker, a few tenths of a second. Not waiting let the interpreter's exit race
            # the pool's manager thread closing its wake-up pipe, which printed a traceback
            # ("Exception ignored ... Bad file descriptor") after a run that failed on its
            # files, about one run in six.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Jobs = int | Readers | None  # processes to read on (None: every core), or readers to share


def readers(jobs: Jobs) -> contextlib.AbstractContextManager[Readers]:
    """``jobs``'s readers: those given (left running), or new ones stopped on exit."""
    return contextlib.nullcontext(jobs) if isinstance(jobs, Readers) else Readers(jobs)



class ReadAhead:
    """YAML files read on worker processes ahead of their use, in their order, so the caller
    builds models from the first while the workers read the rest.

    ``read(path)`` gives what :func:`read_yaml` would, identically: a path the workers have
    read, under the same spelling, comes from them; any other is read here, and so is a path
    whose batch the workers have not finished (while they start, or on a busy machine, reading
    it here is sooner than waiting). With one job, or few files, nothing is read ahead and no
    pool starts. Use as a context manager: on exit, work not yet collected is dropped, and the
    pool stops unless ``jobs`` is a :class:`Readers` (its owner stops it).
    """

    def __init__(self, files: Sequence[Path], jobs: Jobs = None) -> None:
        self.files = list(files)
        self.jobs = jobs
        self._where: dict[str, tuple[Path, int, int]] = {}  # abspath -> (path, batch, index)
        self._batches: list[Future[list[_Read]]] = []  # appended to by the submitting thread
        self._submitter: threading.Thread | None = None
        self._closing = False
        self._stack = ExitStack()

    def __enter__(self) -> ReadAhead:
        shared = self._stack.enter_context(readers(self.jobs))
        pool = shared.pool_for(len(self.files))
        if pool is None:
            return self
        size = max(_MIN_BATCH, math.ceil(len(self.files) / (16 * shared.jobs)))
        batches: list[list[str]] = []
        for start in range(0, len(self.files), size):
            batch = self.files[start:start + size]
            for index, path in enumerate(batch):
                self._where.setdefault(os.path.abspath(path), (path, len(batches), index))
            batches.append([str(p) for p in batch])
        # Starting the workers takes about half a second; the caller reads the first files
        # itself meanwhile, so the batches are handed over from a thread.
        self._submitter = threading.Thread(
            target=self._submit, args=(pool, batches, os.getcwd(), {
                name: os.environ[name] for name in PARSER_ENVS if name in os.environ}),
            name="riskengine-read-ahead", daemon=True)
        self._submitter.start()
        return self

    def _submit(self, pool: Executor, batches: list[list[str]], cwd: str,
                parser: dict[str, str]) -> None:
        for batch in batches:
            if self._closing:
                return
            try:
                self._batches.append(pool.submit(read_batch, batch, cwd, parser))
            except Exception:  # no pool: the caller reads every file itself
                return

    def __exit__(self, *exc: object) -> None:
        self._closing = True
        if self._submitter is not None:
            self._submitter.join()
        for batch in self._batches:
            batch.cancel()
        self._batches.clear()
        self._where.clear()
        self._stack.close()

    def _ready(self, batch: int) -> Future[list[_Read]] | None:
        """The batch's work if the workers have done it, else None: the caller reads its
        files itself rather than wait (a batch not yet started is dropped, so the workers
        skip ahead)."""
        future = self._batches[batch] if batch < len(self._batches) else None
        if future is not None and not future.done():
            if future.cancel() and any(f.done() and not f.cancelled()
                                       for f in self._batches[:batch]):
                # The workers are up, yet a whole batch behind the caller: they lack a core
                # (a busy machine) and would only take CPU from it. Stop handing them work.
                self._closing = True
                for later in self._batches[batch:]:
                    later.cancel()
            return None
        return future

    def read(self, path: Path) -> Document:
        where = self._where.pop(os.path.abspath(path), None)
        if where is None or where[0] != path:
            return read_yaml(path)
        future = self._ready(where[1])
        if future is None:
            return read_yaml(path)
        try:
            data, positions, text, problems = future.result()[where[2]]
        except Exception:  # cancelled, or a worker died: read here
            return read_yaml(path)
        if problems is not None:
            raise InputError([Problem(*fields) for fields in problems])
        return Document(path, data, positions, text)
