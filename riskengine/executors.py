"""Executors: where the work of a command runs, and how many processes share it.

* ``local``: no pool, everything in this process;
* ``process`` (the default): a pool of ``jobs`` worker processes on this machine, each with one
  BLAS thread, forked from a server that has imported the engine once;
* ``dask://HOST:PORT``: the workers of a running Dask scheduler (``pip install
  riskengine[dask]``).

Any :class:`concurrent.futures.Executor` will do for the API. This module imports nothing of
the engine, so every layer (reading files, simulating, sweeping) can start a pool without
importing the layers above it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


class ExecutorError(ValueError):
    """A ``--executor`` or ``--jobs`` that cannot be used (a usage error, exit 2)."""

    usage_error = True


def default_jobs() -> int:
    return os.cpu_count() or 1


def one_blas_thread() -> None:
    """Pool initializer: one BLAS thread per worker process. The workers already share the
    cores between them; BLAS threads on top would only compete for them. Ctrl-C is the
    parent's to handle (it reports "interrupted" once), not every worker's traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in BLAS_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def blas_threads() -> tuple[list[int], str | None]:
    """This process's BLAS thread counts and OPENBLAS_NUM_THREADS (to check a worker)."""
    from threadpoolctl import threadpool_info

    return ([lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"],
            os.environ.get("OPENBLAS_NUM_THREADS"))


def process_pool(jobs: int) -> Executor:
    """A pool of ``jobs`` worker processes, each limited to one BLAS thread."""
    from concurrent.futures import ProcessPoolExecutor

    with _one_blas_thread_here():
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=one_blas_thread,
                                   mp_context=_server())
        # start the workers now, while the variables are set
        pool.submit(int).result()
    return pool


def warm_workers() -> None:
    """Start the fork server that pools' workers come from, and return at once: it imports
    the engine (0.8 s of a core) while the caller reads its files, instead of when the first
    pool starts. For a command that will start a pool; one that does not wastes that core's
    time, not the caller's."""
    from multiprocessing import forkserver

    with _one_blas_thread_here():
        _server()
        forkserver.ensure_running()


def _server() -> Any:
    import multiprocessing

    # forkserver, not fork: the caller may have threads (a Dask client, a progress bar)
    # whose locks a forked child would inherit mid-use
    context = multiprocessing.get_context("forkserver")
    # The server imports the engine once; every worker of every pool forked from it
    # starts with numpy and the kernel loaded instead of importing them again (the
    # setting counts only before the server's first start, which is all it needs).
    # scipy.special builds the Beta tables in every worker's first run: imported in each,
    # it cost each 0.24 s of CPU and its own copy of the module's pages.
    context.set_forkserver_preload(["riskengine.simulation", "riskengine.sensitivity",
                                    "riskengine.parallel", "riskengine.files",
                                    "scipy.special"])
    return context


@contextmanager
def _one_blas_thread_here() -> Iterator[None]:
    """The BLAS variables set to one thread in this process while a server or pool starts, so
    a worker that loads its BLAS before the initializer runs (the fork server imports numpy
    before any worker exists) still gets one thread."""
    saved = {name: os.environ.get(name) for name in BLAS_VARIABLES}
    os.environ.update(dict.fromkeys(BLAS_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class LazyPool(Executor):
    """A process pool that starts its workers on the first task: a command whose work is too
    small to split (one stream block, one scenario) never pays for them."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: Executor | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if self.pool is None:
            self.pool = process_pool(self.jobs)
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)
            self.pool = None


def makes_workers(spec: str, jobs: int | None) -> bool:
    """Whether :func:`executor` makes a pool of worker processes here for ``spec`` and
    ``jobs`` (default: every core): ``process`` with more than one job."""
    return spec == "process" and (default_jobs() if jobs is None else jobs) > 1


@contextmanager
def executor(spec: str = "process", jobs: int | None = None) -> Iterator[Executor | None]:
    """The executor named by ``spec`` (``local``, ``process`` or ``dask://HOST:PORT``), shut
    down on exit; None means "in this process". ``process`` with one job is in this process
    too: a pool of one only adds the cost of shipping the work."""
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ExecutorError(f"--jobs {jobs}: must be at least 1")
    if spec == "local" or (spec == "process" and not makes_workers(spec, jobs)):
        yield None
        return
    if spec == "process":
        pool = LazyPool(jobs)
        try:
            yield pool
        finally:
            pool.shutdown(cancel_futures=True)
        return
    if spec.startswith("dask://") or spec.startswith("tcp://"):
        address = "tcp://" + spec.split("://", 1)[1]
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError(f"--executor {spec}: Dask is not installed (pip install "
                                "'riskengine[dask]')") from None
        try:
            client = Client(address, timeout="10s")
        except OSError as exc:
            raise ExecutorError(f"--executor {spec}: cannot reach the Dask scheduler at "
                                f"{address} ({exc})") from None
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    raise ExecutorError(f"--executor {spec}: use local, process or dask://HOST:PORT")


def ordered(pool: Executor | None, func: Callable[..., Any], items: Sequence[Any],
            *args: Any, progress: Callable[[int], None] | None = None) -> list[Any]:
    """``[func(item, *args) for item in items]``, on the pool's workers when there is one;
    the results come back in the order of ``items`` whatever order the workers finish in."""
    if pool is None:
        out = []
        for item in items:
            out.append(func(item, *args))
            if progress is not None:
                progress(1)
        return out
    futures = [pool.submit(func, item, *args) for item in items]
    out = []
    for future in futures:
        out.append(future.result())
        if progress is not None:
            progress(1)
    return out


# Set where the process will end without the interpreter's teardown (the `riskengine`
# command, cli.entry): what a command is done with is kept to the end instead of freed.
_kept_to_exit: list[Any] | None = None


def end_without_teardown() -> None:
    """Say that this process will leave by ``os._exit``: :func:`keep_to_exit` keeps from now."""
    global _kept_to_exit
    _kept_to_exit = []


def keep_to_exit(value: Any) -> None:
    """Keep ``value`` alive to the end of a process that leaves without teardown, where
    freeing it object by object would be time thrown away (the files this process checked
    of 5,000: 0.09 s); anywhere else, nothing (it is freed when unused, as usual)."""
    if _kept_to_exit is not None:
        _kept_to_exit.append(value)


def can_fork() -> bool:
    """Whether :func:`forked_map` would fork here: on Linux, with no thread but this one (a
    forked child inherits every lock as it was; another thread could hold one). Not on macOS,
    where system libraries (Accelerate's BLAS, which numpy may use there) are not safe to use
    in a forked child: multiprocessing stopped forking there for that reason."""
    import sys
    import threading

    return sys.platform.startswith("linux") and threading.active_count() == 1


def forked_map(work: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``[work(item) for item in items]``: the first item in this process, each other in a
    child forked from it, all at once. A child starts with this process's memory (a loaded
    catalogue, its trees, ``work`` itself: nothing is pickled on the way there, and closures
    will do), and sends back its result pickled, so results should be plain values. An
    exception in a child is raised here as :class:`RuntimeError` naming it; so is a child that
    dies. Where :func:`can_fork` is false, every item is worked here, one after another."""
    if len(items) < 2 or not can_fork():
        return [work(item) for item in items]
    import gc
    import signal

    children: list[tuple[int, int]] = []  # (pid, read end of its pipe), not yet collected
    # What exists now is frozen out of the collector's reach until the work is done: a
    # collection in a child would otherwise walk, and so copy, every page of the heap, and
    # one here would walk what does not change while the work runs.
    gc.freeze()
    # And the work runs without the collector: what it makes is kept or freed by reference
    # counting (checking 5,000 scenario files, 16 passes a share, 0.1 s, freed nothing; the
    # scoring and simulations of `run --simulate` left a few hundred cyclic objects a pass).
    # What it made joins the oldest generation unscanned, below, where a full collection
    # finds any cycles among it: scanned as young on the next pass, it cost what was saved.
    enabled = gc.isenabled()
    gc.disable()
    try:
        for item in items[1:]:
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's coverage is not collected
                os.close(read_end)
                _child(work, item, write_end)
            os.close(write_end)
            children.append((pid, read_end))
        out = [work(items[0])]
        while children:
            out.append(_collect(*children.pop(0)))
        return out
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
        for pid, read_end in children:  # the work failed here: the children's is not wanted
            try:
                os.close(read_end)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass


def _child(work: Callable[[Any], Any], item: Any, write_end: int
           ) -> None:  # pragma: no cover - runs in the forked child
    """A forked child's whole life: work, send, and leave without running the parent's exit
    handlers or flushing its buffered output (both are the parent's)."""
    import pickle
    import signal

    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to report
        try:
            message = pickle.dumps((True, work(item)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # every failure goes back to the parent
            message = pickle.dumps((False, f"{type(exc).__name__}: {exc}"))
        view = memoryview(message)
        while view:
            view = view[os.write(write_end, view):]
    except BaseException:  # nothing can be sent: the parent sees no result
        code = 1
    finally:
        os._exit(code)


def _collect(pid: int, read_end: int) -> Any:
    """A forked child's result, once it has sent it all and ended."""
    import pickle

    chunks = []
    try:
        while chunk := os.read(read_end, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError(f"a worker process ended without its result (status {status})")
    done, result = pickle.loads(b"".join(chunks))
    if not done:
        raise RuntimeError(f"in a worker process: {result}")
    return result
