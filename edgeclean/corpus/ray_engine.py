"""The Ray engine: a Ray Data dataset of PDF paths, cleaned by a pool of actors that each load the GGUF once.

Ray is imported here only, and only when this engine runs: the rest of edgeclean installs and works without
it. Each actor cleans one document per call with the same ``DocumentCleaner`` as the local engine and returns a
status row; a killed actor is restarted by Ray and its document retried, resuming from the checkpoint in OUTDIR.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

from ..errors import EdgecleanError, SettingsError
from ..model.protocol import Model
from ..settings import CleanSettings
from .listing import Document
from .manifest import Row
from .worker import DocumentCleaner

log = logging.getLogger("edgeclean")
RAY_MISSING = "--engine ray needs Ray, which is not installed: pip install 'edgeclean[ray]'"
ROW_FIELDS = [field.name for field in fields(Row)]


RAY_CLIENT_UNSUPPORTED = (
    "--address {address}: Ray Data cannot run this job's driver through Ray Client (ray://): its executor needs "
    "a cluster worker (measured with Ray 2.60); run the command on a node of the cluster with --address auto "
    "(README: Many machines)"
)


def check_address(address: str | None) -> None:
    if address and address.startswith("ray://"):
        raise SettingsError(RAY_CLIENT_UNSUPPORTED.format(address=address))


def import_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise SettingsError(RAY_MISSING) from None
    return ray


class _RayCleaner:
    """The actor: Ray Data builds it once per pool slot; the model path arrives as a plain string."""

    def __init__(self, model: str | None, settings: CleanSettings, password, model_factory):
        _spawn_without_ray_main()
        self.cleaner = DocumentCleaner(model, settings, password=password, model_factory=model_factory)

    def __call__(self, batch: dict) -> dict:
        rows = [
            self.cleaner.clean(str(i), str(p), str(o))
            for i, p, o in zip(batch["id"], batch["pdf"], batch["output"], strict=True)
        ]
        return {name: [getattr(row, name) for row in rows] for name in ROW_FIELDS}


def _spawn_without_ray_main() -> None:
    """pypdf runs in a spawned child (stages/extract.py), and spawn runs the parent's ``__main__`` file again in
    the child: in an actor that is Ray's default_worker.py, so every document paid for importing Ray once more
    (about 0.5 s of CPU; the 1-worker overhead against the local engine was 12.5% on 24 documents). The child
    needs nothing from it; without ``__file__`` spawn skips it."""
    main = sys.modules.get("__main__")
    if main is not None and str(getattr(main, "__file__", "")).endswith("default_worker.py"):
        del main.__file__


@dataclass(frozen=True)
class Pool:
    """How many actors, and the CPUs each reserves from Ray (llama.cpp still runs ``threads`` threads)."""

    low: int
    high: int
    cpus_each: float


def pool_for(workers: tuple[int, int], threads: int, cluster_cpus: float) -> Pool:
    """Keep at least one CPU unreserved for Ray Data's own read and write tasks (a fully reserved pool hangs
    silently, ``backpressured:tasks(ResourceBudget)``), giving the workers asked for where that is possible.

    Each actor reserves ``threads`` CPUs when the pool fits beside the free one. When it does not, each actor
    reserves its share of the rest (4 workers of 1 thread on 4 CPUs reserve 0.75 each), down to half its threads:
    Ray's tasks are light, so a worker sharing a little of one CPU with them costs less than a worker not run.
    Below half, the pool is capped instead: more threads than that on too few CPUs only slows every worker."""
    low, high = workers
    spare = max(cluster_cpus - 1, 0.0)
    if high * threads <= spare:
        return Pool(low, high, float(threads))
    share = spare / high
    if share >= threads / 2:
        log.warning(
            "%d workers × %d threads on %g CPUs: each worker reserves %.2f CPUs so one stays free for Ray",
            high,
            threads,
            cluster_cpus,
            share,
        )
        return Pool(low, high, share)
    most = max(1, int(spare // (threads / 2)))
    cpus_each = min(float(threads), spare / most) if spare else cluster_cpus / 2  # a 1-CPU cluster
    log.warning(
        "%d workers × %d threads would leave Ray no free CPU on %g CPUs; using at most %d",
        high,
        threads,
        cluster_cpus,
        most,
    )
    return Pool(min(low, most), min(high, most), cpus_each)


def run_ray(
    documents: list[Document],
    settings: CleanSettings,
    *,
    model: str | None,
    address: str | None,
    workers: tuple[int, int],
    threads_per_worker: int,
    gpus_per_worker: float = 0.0,
    password: str | None = None,
    model_factory: Callable[[], Model] | None = None,
) -> Iterator[Row]:
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        local_cpus = max(os.cpu_count() or 1, workers[1] * threads_per_worker + 1)
        options = {"address": address} if address else {"num_cpus": local_cpus}
        try:
            ray.init(**options, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, TimeoutError) as error:  # a head that is down, a port that is closed
            raise EdgecleanError(f"cannot reach the Ray cluster at {address}: {error}") from None
        except ValueError as error:  # an address Ray cannot parse
            raise SettingsError(f"--address {address}: {str(error).splitlines()[0]}") from None
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its INFO lines and progress-bar notes
    try:
        pool = pool_for(workers, threads_per_worker, ray.cluster_resources().get("CPU", 1))
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        # Absolute paths: an actor runs in a folder of Ray's, and on other nodes (where they name shared storage).
        items = [{"id": d.id, "pdf": str(d.pdf.absolute()), "output": str(d.output.absolute())} for d in documents]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        rows = dataset.map_batches(
            _RayCleaner,
            fn_constructor_kwargs=dict(model=model, settings=settings, password=password, model_factory=model_factory),
            batch_size=1,
            # One document in flight per actor: Ray Data's default (2) queues the next document on a busy actor,
            # where it waits behind a long document while another actor idles (documents differ 100-fold in length).
            compute=ray.data.ActorPoolStrategy(min_size=pool.low, max_size=pool.high, max_tasks_in_flight_per_actor=1),
            num_cpus=pool.cpus_each,
            num_gpus=gpus_per_worker or None,
        )  # Ray Data restarts a killed actor (max_restarts=-1) and retries its document (max_task_retries=-1)
        for record in rows.iter_rows():
            yield Row.from_dict({name: _plain(record[name]) for name in ROW_FIELDS})
    finally:
        if started_here:
            ray.shutdown()


def _plain(value):
    return value.item() if hasattr(value, "item") else value
