"""Build a training dataset once into an Arrow cache that every process of a launch memory-maps.

The loaders of :mod:`medreasoner.stages.datasets` stream a file row by row, checking each row, into
``datasets.Dataset.from_generator``: it writes Arrow record batches to disk and returns a dataset
memory-mapped from them, so resident memory stays a few batches whatever the file size, and the
pages are shared by all processes of a machine (``bench/data_loading.py`` measures it). TRL's own
``Dataset.map`` steps (chat template, tokenisation) then write their results next to the cache
instead of holding them in memory.

The cache is named by a fingerprint of the loader, its options and columns, the resolved path, size
and modification time (ns) of each source file, and the source code of the modules that turn rows
into records: change any of them and the next load builds a new cache (the old one stays until its
directory is deleted). Reading the same unchanged file again only maps the cache.

Order across processes: the global main process builds first, then the main process of each node
(so a cache on node-local disk is built once per node), then the others, which find the cache and
only map it; the same order TRL uses for its own dataset preparation. Without a distributed launch
this is one process and nothing waits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from datasets import Dataset, Features
from datasets.exceptions import DatasetGenerationError

from medreasoner.errors import InputError
from medreasoner.launch import PROCESS_GROUP_TIMEOUT, accelerate_state  # noqa: F401 (the timeout is checked by tests)

# The modules whose code decides the cached records: editing any of them invalidates every cache.
_PACKAGE = Path(__file__).resolve().parents[1]
_CODE_FILES = ("stages/datasets.py", "stages/dataset_cache.py", "files.py")
CODE_HASH = hashlib.sha256(b"".join((_PACKAGE / name).read_bytes() for name in _CODE_FILES)).hexdigest()



def source_signature(paths: list[Path]) -> list[list]:
    """``[resolved path, size (bytes), modification time (ns)]`` of each file, the cache's view of its inputs.

    Raises:
        InputError: a file does not exist.
    """
    signature = []
    for path in paths:
        if not path.is_file():
            raise InputError(path, "file not found")
        stat = path.stat()
        signature.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return signature


def fingerprint(loader: str, *, features: Features, sources: list[Path], options: dict) -> str:
    """The cache name: ``<loader>-<32 hex digits>`` over everything that decides the cached records."""
    identity = {"loader": loader, "options": options, "features": features.to_dict(),
                "sources": source_signature(sources), "code": CODE_HASH}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"{loader}-{digest[:32]}"


def cached_dataset(loader: str, rows: Callable[[], Iterator[dict]], *, features: Features, sources: list[Path],
                   options: dict, cache_dir: str | Path | None) -> Dataset:
    """Build the Arrow cache of ``rows()`` unless it exists, and return the dataset memory-mapped from it.

    Args:
        loader: the loader's name (it starts the cache's name).
        rows: streams the records; called only by a process that finds no cache. Raises
            :class:`InputError` at the first bad row.
        features: the column types of the records.
        sources: the files ``rows`` reads (their path, size and modification time name the cache).
        options: the loader's arguments that change the records.
        cache_dir: the cache root; None means datasets' default (``$HF_DATASETS_CACHE``, by default
            ``~/.cache/huggingface/datasets``). The cache lands in ``<cache_dir>/generator/``.

    Raises:
        InputError: a missing source file, or the first bad row (in the process that builds).
    """
    name = fingerprint(loader, features=features, sources=sources, options=options)
    # The loaders run before the stage builds its TrainingArguments, so under a launch this may be what
    # starts the process group; once started (by the pipeline), this only reads it.
    state = accelerate_state()
    with state.main_process_first(), state.local_main_process_first():
        try:
            return Dataset.from_generator(rows, features=features, fingerprint=name,
                                          cache_dir=None if cache_dir is None else str(cache_dir))
        except DatasetGenerationError as error:
            # datasets wraps whatever the generator raises; a bad row must reach the user as the
            # one-line InputError naming its file, line and field, not as a generation traceback.
            if isinstance(error.__cause__, InputError):
                raise error.__cause__ from None
            raise
