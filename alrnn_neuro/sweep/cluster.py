"""The dask cluster of ``run_sweep(executor="dask")``: secured when we start it ourselves.

A local cluster (no ``scheduler`` address given) is started so that no other process, and no
other user of the machine, can use it:

* every server (scheduler, nannies, workers) listens on 127.0.0.1 only;
* all traffic is TLS with mutual authentication, from a throw-away certificate authority made
  for this sweep (:meth:`distributed.security.Security.temporary`): a client without this
  process's credentials cannot connect, hence cannot run code in the sweep's workers;
* no HTTP server is left listening (dask starts one per scheduler and worker for its
  dashboard and metrics): they serve no routes and are stopped once the cluster is up, unless
  ``dashboard=True`` asks for the dashboard (on 127.0.0.1);
* workers ignore Ctrl-C (SIGINT reaches the whole process group): the sweep process alone
  handles it and closes the cluster, quietly (:func:`close`).

An existing cluster (``scheduler="tls://HOST:PORT"``) is secured by whoever runs it; the
client takes its credentials from the dask configuration (``distributed.comm.tls.*``); see
``docs/cluster.md``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from alrnn_neuro.errors import ConfigError

logger = logging.getLogger(__name__)

#: seconds to wait for an existing dask scheduler before giving up
CONNECT_TIMEOUT = "5s"
#: the only interface a local cluster listens on
LOCAL_HOST = "127.0.0.1"
#: loggers of dask and its event loop that report on workers being stopped
DASK_LOGGERS = ("distributed", "tornado", "asyncio")


def connect(
    scheduler: str | None, workers: int | None, *, dashboard: bool = False
) -> tuple[Any, Any]:
    """Connect to ``scheduler``, or start a secured local cluster of ``workers`` processes.

    Parameters
    ----------
    scheduler : str or None
        Address of a running scheduler (``tls://`` or ``tcp://HOST:PORT``); None starts a
        local cluster.
    workers : int or None
        Single-threaded worker processes of a local cluster (default: the CPU cores).
    dashboard : bool
        Serve dask's dashboard on 127.0.0.1 (local cluster only).

    Returns
    -------
    (Client, LocalCluster or None)
        Close both when done (the cluster is None for an existing scheduler).

    Raises
    ------
    ConfigError
        dask.distributed (or, for a local cluster, ``cryptography``) is not installed, or the
        scheduler does not answer.
    """
    try:
        from dask.distributed import Client
    except ImportError as error:
        raise ConfigError(
            "executor='dask' needs dask.distributed; fix: pip install 'alrnn-neuro[distributed]'"
        ) from error
    if scheduler is not None:
        if str(scheduler).startswith("tls://"):
            _check_tls_credentials(scheduler)
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT), None
        except (OSError, TimeoutError, ValueError) as error:
            raise ConfigError(
                f"scheduler={scheduler!r} is unreachable ({error}); fix: check the address "
                "printed by the cluster (e.g. tls://HOST:8786), that it is running, and that "
                "the dask configuration holds its TLS credentials (docs/cluster.md)"
            ) from error
    return start_local_cluster(workers, dashboard=dashboard)


def _check_tls_credentials(scheduler: str) -> None:
    """Refuse a ``tls://`` scheduler when the dask configuration names no client credentials
    (distributed then fails deep inside with a TypeError about an ssl_context)."""
    import dask

    keys = ("ca-file", "client.cert", "client.key")
    missing = [k for k in keys if not dask.config.get(f"distributed.comm.tls.{k}", None)]
    if missing:
        names = ", ".join(f"distributed.comm.tls.{k}" for k in missing)
        raise ConfigError(
            f"scheduler={scheduler!r} speaks TLS, but the dask configuration holds no {names}; "
            "fix: put the cluster's CA and a client certificate and key there (docs/cluster.md)"
        )


def local_workers(requested: int | None, threads: int) -> int:
    """Worker processes of a local cluster whose fits use ``threads`` torch threads each.

    At most (CPU cores of this process) // threads, so that workers x threads never exceed
    the cores: more busy threads than cores make every OpenMP barrier wait for a descheduled
    thread (a training step ran 30x slower with two threads on two cores next to one busy
    process). A larger request is capped, with a warning; None gives the maximum.

    Examples
    --------
    >>> local_workers(1, 1)
    1
    """
    cores = len(os.sched_getaffinity(0))
    most = max(1, cores // max(threads, 1))
    if requested is None:
        return most
    if requested > most:
        logger.warning(
            "workers=%d x threads=%d would oversubscribe the %d CPU cores; using %d workers",
            requested,
            max(threads, 1),
            cores,
            most,
        )
        return most
    return requested


def start_local_cluster(workers: int | None, *, dashboard: bool = False) -> tuple[Any, Any]:
    """A LocalCluster on 127.0.0.1 with mutual TLS from temporary credentials, and its client.

    See the module docstring for what it guarantees; ``connect`` documents the parameters.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    security = temporary_security()
    n = workers if workers is not None else len(os.sched_getaffinity(0))
    settings = {} if dashboard else NO_HTTP_ROUTES
    with dask.config.set(settings):
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host=LOCAL_HOST,
            protocol="tls://",
            security=security,
            dashboard_address=f"{LOCAL_HOST}:0" if dashboard else None,
            worker_dashboard_address=None,
        )
        try:
            client = Client(cluster, security=security)
            _register_worker_plugin(client, _ignore_interrupts_plugin())
            if not dashboard:
                _stop_http_servers(client, cluster)
        except BaseException:
            cluster.close()
            raise
    if dashboard:
        # the CLI shows it through run_sweep's progress events; logged for library users
        logger.info("dask dashboard: %s", client.dashboard_link)
    return client, cluster


#: dask settings that give every HTTP server of a cluster no routes at all
NO_HTTP_ROUTES = {
    "distributed.scheduler.http.routes": [],
    "distributed.worker.http.routes": [],
}


def temporary_security() -> Any:
    """Fresh mutual-TLS credentials (``Security.temporary``) for one local cluster.

    Raises
    ------
    ConfigError
        If ``cryptography`` (needed to make the certificates) is not installed.
    """
    from distributed.security import Security

    try:
        return Security.temporary()
    except ImportError as error:
        raise ConfigError(
            "the local dask cluster is secured with temporary TLS certificates, which need the "
            "'cryptography' package; fix: pip install 'alrnn-neuro[distributed]'"
        ) from error


def _stop_http_servers(client: Any, cluster: Any) -> None:
    """Close the HTTP servers dask always starts (scheduler here, each worker in its process)."""
    server = getattr(cluster.scheduler, "http_server", None)
    if server is not None:
        server.stop()
    client.run(_stop_worker_http_server)
    client.run(_stop_worker_http_server, nanny=True)


def _stop_worker_http_server(dask_worker: Any = None) -> None:
    server = getattr(dask_worker, "http_server", None)
    if server is not None:
        with contextlib.suppress(Exception):
            server.stop()


def close(client: Any, cluster: Any, *, quiet: bool = False) -> None:
    """Close ``client`` and (if we started it) ``cluster``; ``quiet`` silences dask's log lines
    about the workers it stops (after Ctrl-C they are expected, not news).

    Our own cluster's nannies stay quiet either way: every result is in by then, and a worker
    that takes more than dask's four seconds to exit (freeing a long fit's memory) is killed
    with a warning ("Worker process still alive after 4.0 seconds, killing") that reads like
    a failure but is none.
    """
    if quiet:
        names = DASK_LOGGERS
    else:  # only our own cluster has nannies to quiet
        names = ("distributed.nanny",) if cluster is not None else ()
    with _quiet_dask_logs(names):
        if quiet and client is not None and cluster is not None:
            with contextlib.suppress(Exception):  # our workers: their logs go quiet too
                client.run(_silence_worker_logs)
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _quiet_dask_logs(names: tuple[str, ...] = DASK_LOGGERS) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _silence_worker_logs() -> None:
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def quiet_after_interrupt() -> Iterator[None]:
    """Inside the block, Ctrl-C first silences dask's loggers, then raises KeyboardInterrupt.

    The sweep stops its workers itself and says so in one line. Silencing only while closing
    the cluster (:func:`close`) comes too late when the interrupt lands inside
    distributed's ``sync``: its event-loop thread may log a NameError traceback from
    ``sync.<locals>.cancel`` (a race in distributed) before the main thread gets there. The
    loggers stay silent for the rest of the process, which ends with the interrupt. Only
    Python's default SIGINT handler, in the main thread, is replaced (and restored after).
    """
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    if previous is not signal.default_int_handler:
        yield
        return

    def silence_then_interrupt(signum: int, frame: Any) -> None:
        _silence_worker_logs()  # the same three loggers, here in the sweep process
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, silence_then_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ignore_interrupts_plugin() -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class IgnoreInterrupts(WorkerPlugin):
        """Workers leave SIGINT to the sweep process, which stops them itself."""

        name = "alrnn-neuro-ignore-sigint"

        def setup(self, worker: Any) -> None:
            with contextlib.suppress(ValueError):  # not the main thread: nothing to do
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    return IgnoreInterrupts()


def _register_worker_plugin(client: Any, plugin: Any) -> None:
    register = getattr(client, "register_plugin", None) or client.register_worker_plugin
    register(plugin)
