"""Run a recipe's stages in order: skip finished ones, resume interrupted ones, record lineage.

Each stage writes ``RUN_DIR/<stage>/``::

    resolved_config.yaml   the stage's kind and validated config (written when the stage starts)
    metrics.jsonl          every logged metric, appended (a resumed stage adds to it)
    tb/                    TensorBoard event files (when logging.report_to has tensorboard)
    stage_manifest.json    written last, atomically: the stage is finished when this file exists
    ...                    the stage's own output (a Hugging Face model, data files, results.json)

``stage_manifest.json`` records the config and its hash, the inputs the stage read (earlier stages
with the hash of their manifests, external files with their content hash), library versions, wall
time and final metrics, so every artifact can be traced to what built it. The inputs, versions and
git commit are taken once, before the stage runs, and handed to it (``StageContext.provenance``), so
a training stage's model card records the very same lineage without hashing its data again.

States on a re-run: finished with the same config and inputs -> skipped; started but not finished
(no manifest) with the same config -> run again in the same directory, where the stage resumes from
its last checkpoint (the directory is never wiped); finished or started with a *different* config,
or built from inputs that have since been rebuilt -> refused, unless ``force`` is set, in which case
that stage's directory is deleted and rebuilt (and so, in turn, every later stage reading it). ``rerun``
names stages to rebuild although nothing in their config changed (their code did); the later stages that
read them are rebuilt in turn, and nothing else.

Under a multi-process launcher (``accelerate launch``, ``torchrun``) every rank runs this loop. The
training stages (:data:`EVERY_RANK_KINDS`) run on every rank, where the Trainer splits the data (DDP)
or the model (FSDP, ZeRO-3) across them; every other stage (world, tiny_model, data steps, merge,
eval...) runs on rank 0 alone while the other ranks wait, then every rank reads its manifest. Only
rank 0 writes ``resolved_config.yaml``, metrics, the final model and the manifest. See docs/distributed.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shutil
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import yaml

from medreasoner.errors import InputError
from medreasoner.files import STAGE_MANIFEST, file_sha256, path_sha256, read_text_utf8, write_text_atomic
from medreasoner.launch import accelerate_state
from medreasoner.recipe import Recipe, Stage, format_field, parse_yaml
from medreasoner.recipe_inputs import config_strings, missing_inputs
from medreasoner.source_commit import source_commit
from medreasoner.stages import load_stage
from medreasoner.stages.context import StageContext, StageProvenance
from medreasoner.tracking import MetricsLog, check_trackers

RESOLVED_CONFIG = "resolved_config.yaml"
VERSIONED_PACKAGES = ("medreasoner", "torch", "transformers", "trl", "peft", "datasets", "accelerate",
                      "tokenizers", "deepspeed", "vllm")
# Stage kinds whose run() is collective: every rank calls it and the Trainer shares the work out. Every
# other kind runs on rank 0 only. A new training stage must be added here, or it trains single-process
# on rank 0 while the other ranks wait.
EVERY_RANK_KINDS = frozenset({"cpt", "sft", "reward_model", "preference", "grpo"})
# How long the other ranks wait for a rank-0 stage (a 72B eval or merge takes hours). The default
# group's timeout (the Trainer's ddp_timeout, 30 min) would end the wait first; a failing rank 0 does
# not make them wait this long, because the launcher stops every rank when one exits with an error.
RANK0_STAGE_TIMEOUT = timedelta(hours=24)


@dataclass(frozen=True)
class StageState:
    """What a re-run must do with a stage: ``done`` (skip), ``new``, ``resume`` or ``stale`` (+ why; for a stage
    stale only because earlier stages were rebuilt, their names)."""

    status: str
    reason: str
    rebuilt_inputs: tuple[str, ...] = ()


def run_recipe(recipe: Recipe, *, force: bool, echo=print, rerun: tuple[str, ...] = ()) -> dict[str, dict]:
    """Run every stage of ``recipe`` that is not finished yet; return {stage name: final metrics}.

    Args:
        recipe: a validated recipe (:func:`medreasoner.recipe.load_recipe`).
        force: rebuild stages whose config or inputs changed instead of refusing.
        echo: where progress lines go (``print`` or a rich console's ``print``).
        rerun: stages to rebuild from scratch although finished with the same config (after a change to
            their code); the later stages that read them are rebuilt in turn, without ``force``.

    Raises:
        InputError: before any stage runs, a name in ``rerun`` is not a stage of the recipe or a stage to
            build reads a missing file from outside the run (:func:`check_inputs`); later, a finished
            stage's config or inputs changed and ``force`` is False.
    """
    names = [stage.name for stage in recipe.stages]
    unknown = [name for name in rerun if name not in names]
    if unknown:
        raise InputError(recipe.path, f"--rerun names no stage of this recipe: {', '.join(unknown)} "
                         f"(its stages: {', '.join(names)})", field="stages")
    check_inputs(recipe, rerun)
    check_trackers(recipe.path, recipe.report_to)
    with _process_group():
        return _run_stages(recipe, force=force, echo=echo, rerun=frozenset(rerun))


def stages_to_build(recipe: Recipe, rerun: tuple[str, ...] = ()) -> list[Stage]:
    """The stages a run of ``recipe`` may build, in order: those not finished (new, interrupted, or stale and
    so rebuilt under ``force``), those ``rerun`` names, and those reading any of these (a rebuilt stage makes
    the later ones that read it stale)."""
    built: list[Stage] = []
    for stage in recipe.stages:
        reads_built = any(built_stage.name in stage.references for built_stage in built)
        if stage.name in rerun or reads_built or stage_state(recipe, stage).status != "done":
            built.append(stage)
    return built


def check_inputs(recipe: Recipe, rerun: tuple[str, ...] = ()) -> None:
    """Raise for the first file from outside the run that a stage this run will build reads and that is missing.

    Only :func:`stages_to_build` are checked: a finished stage that stays finished does not read its inputs
    again. See :mod:`medreasoner.recipe_inputs` for which fields are inputs.

    Raises:
        InputError: at the recipe line of the first missing input, saying how many more there are.
    """
    errors = missing_inputs(recipe, stages_to_build(recipe, rerun))
    if errors:
        more = f" ({len(errors) - 1} more missing: `medreasoner validate --inputs` lists them)" if len(errors) > 1 else ""
        first = errors[0]
        raise InputError(first.path, first.message + more, line=first.line, field=first.field)


def _run_stages(recipe: Recipe, *, force: bool, echo, rerun: frozenset[str]) -> dict[str, dict]:
    main = is_main_process()
    if main:
        recipe.run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(recipe.run_dir / "recipe.yaml", yaml.safe_dump(recipe.resolved(), sort_keys=False))
    results: dict[str, dict] = {}
    total = len(recipe.stages)
    rerun_built: set[str] = set()  # stages this run rebuilds because of --rerun, directly or through an input
    for stage in recipe.stages:
        out_dir = recipe.run_dir / stage.name
        header = f"[{stage.index + 1}/{total}] {stage.name} ({stage.kind})"
        state = stage_state(recipe, stage)
        named = stage.name in rerun and state.status in ("done", "resume")
        if stage.name in rerun:
            rerun_built.add(stage.name)
        if named:
            state = StageState("stale", "named by --rerun")
        _barrier()  # every rank has judged the directory before rank 0 writes into it
        if state.status == "done":
            echo(f"{header}: finished earlier, skipping ({out_dir})")
            results[stage.name] = read_manifest(out_dir, required=("final_metrics",))["final_metrics"]
            continue
        if state.status == "stale":
            # --rerun asks for its stages and for the stages stale only because it rebuilt their inputs
            asked = named or bool(
                state.rebuilt_inputs and set(state.rebuilt_inputs) <= rerun_built)
            if asked:
                rerun_built.add(stage.name)  # and so, in turn, the stages that read it
            if not (force or asked):
                raise InputError(out_dir, f"stage {stage.name!r} {state.reason}; rerun with --force to rebuild it "
                                 "(and the later stages that read it), or pass another --output")
            echo(f"{header}: {state.reason}; {'--rerun' if asked else '--force'}: rebuilding")
            if main:
                shutil.rmtree(out_dir)
            _barrier()  # no rank may start writing into the directory before it is gone
        elif state.status == "resume":
            echo(f"{header}: {state.reason}")
        echo(f"{header}: running -> {out_dir}")
        metrics, wall_time = _run_stage(recipe, stage, out_dir, main)
        results[stage.name] = metrics
        echo(f"{header}: done in {wall_time:.1f} s {_brief(metrics)}")
    return results


def stage_state(recipe: Recipe, stage: Stage) -> StageState:
    """Compare a stage directory with the stage's resolved config and its inputs' manifests."""
    out_dir = recipe.run_dir / stage.name
    current = {"kind": stage.kind, "config": stage.config_dict()}
    manifest = read_manifest(out_dir, required=("kind", "config", "inputs"))
    if manifest is not None:
        changes = _changes({"kind": manifest["kind"], "config": manifest["config"]}, current)
        if changes:
            return StageState("stale", f"finished with a different config ({changes})")
        recorded = {i["stage"]: i["manifest_sha256"] for i in manifest["inputs"] if "stage" in i}
        rebuilt = [name for name in stage.references
                   if recorded.get(name) != file_sha256(recipe.run_dir / name / STAGE_MANIFEST)]
        if rebuilt:
            return StageState("stale", f"was built from an earlier version of {', '.join(rebuilt)}", tuple(rebuilt))
        return StageState("done", "")
    config_file = out_dir / RESOLVED_CONFIG
    if config_file.exists():
        # Bounded like every YAML read; plain SafeLoader: this file was written by yaml.safe_dump.
        previous = parse_yaml(config_file, read_text_utf8(config_file, "resolved config"), yaml.SafeLoader)[0]
        changes = _changes({"kind": previous["kind"], "config": previous["config"]}, current)
        if changes:
            return StageState("stale", f"was started with a different config ({changes})")
        return StageState("resume", "interrupted earlier; resuming in place (the stage continues from its last checkpoint)")
    return StageState("new", "")


def _run_stage(recipe: Recipe, stage: Stage, out_dir: Path, main: bool) -> tuple[dict, float]:
    module = load_stage(stage.kind)
    config = stage.config_dict()
    every_rank = stage.kind in EVERY_RANK_KINDS
    provenance = None  # other ranks write neither the manifest nor a model card: no need to hash again
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out_dir / RESOLVED_CONFIG,
                     yaml.safe_dump({"name": stage.name, "kind": stage.kind, "config": config}, sort_keys=False))
        provenance = stage_provenance(recipe, stage, config)
    # The directory exists before any other rank opens files in it. The other ranks also wait out the
    # hashing here, on the long-timeout group, not in the Trainer's first collective.
    _barrier()
    started = datetime.now(timezone.utc)
    clock, cpu_clock = time.perf_counter(), time.process_time()
    metrics: dict = {}
    if every_rank or main:
        # The training stages (EVERY_RANK_KINDS) log to the trackers through their Trainer's callbacks.
        metrics_log = MetricsLog(out_dir, report_to=recipe.report_to, project=recipe.name, stage_name=stage.name,
                                 config=config, enabled=main, trainer_stage=every_rank)
        try:
            metrics = module.run(stage.config, StageContext(run_dir=recipe.run_dir, out_dir=out_dir,
                                                            seed=recipe.seed, log=metrics_log.log,
                                                            report_to=recipe.report_to, recipe=recipe.path,
                                                            provenance=provenance))
        finally:
            metrics_log.close()
    wall_time, cpu_time = time.perf_counter() - clock, time.process_time() - cpu_clock
    _barrier()  # for a rank-0 stage, the other ranks wait here while rank 0 works
    if main:
        manifest = {
            "stage": stage.name,
            "kind": stage.kind,
            "recipe": str(recipe.path),
            "run_dir": str(recipe.run_dir),
            "seed": recipe.seed,
            "config": config,
            "config_sha256": hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
            # As the stage (its model card) saw them, before it ran.
            "inputs": provenance.inputs,
            "versions": provenance.versions,
            "git_commit": provenance.git_commit,  # None outside a git checkout; "+dirty" with uncommitted changes
            # Unique per build: later stages record this manifest's hash, and two builds of a fast,
            # deterministic stage in the same second could otherwise write identical bytes, so a
            # rebuilt input would look unchanged to the stages that read it.
            "build_id": uuid.uuid4().hex,
            "started_at": started.isoformat(timespec="seconds"),
            "wall_time_s": round(wall_time, 3),
            "cpu_time_s": round(cpu_time, 3),  # this process, all threads: comparable across loaded machines
            "peak_rss_mib": peak_rss_mib(),
            "launch": launch_info(every_rank),
            "machine": machine_info(),
            "final_metrics": metrics,
        }
        write_text_atomic(out_dir / STAGE_MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
    _barrier()
    if not (every_rank or main):
        metrics = read_manifest(out_dir, required=("final_metrics",))["final_metrics"]
    return metrics, wall_time


def stage_provenance(recipe: Recipe, stage: Stage, config: dict) -> StageProvenance:
    """What ``stage`` is built from, for its manifest and its model card alike.

    Computed before the stage runs, so it names what the stage read rather than what the run left,
    and only once, because hashing a large training file is not free.
    """
    return StageProvenance(inputs=stage_inputs(recipe, stage, config), versions=library_versions(),
                           git_commit=source_commit())


def stage_inputs(recipe: Recipe, stage: Stage, config: dict) -> list[dict]:
    """Every path in ``config`` the stage read: earlier stages (with their manifest's hash) and
    existing files or directories outside the run (with a content hash: :func:`medreasoner.files.path_sha256`)."""
    inputs = []
    for loc, value in config_strings(config, ()):
        field = format_field(loc)
        referenced = [n for n in stage.references if value == str(recipe.run_dir / n)
                      or value.startswith(str(recipe.run_dir / n) + os.sep)]
        if referenced:
            name = referenced[0]
            inputs.append({"field": field, "path": value, "stage": name,
                           "manifest_sha256": file_sha256(recipe.run_dir / name / STAGE_MANIFEST)})
        elif value not in ("", ".", "..") and Path(value).exists():
            inputs.append({"field": field, "path": value, "sha256": path_sha256(Path(value))})
    return inputs


def read_manifest(out_dir: Path, required: tuple[str, ...] = ()) -> dict | None:
    """The stage manifest of a finished stage directory, or None when the stage has not finished.

    Args:
        required: keys the caller reads (the report reads whatever is there; the run needs more).

    Raises:
        InputError: the manifest is not a JSON object holding ``required`` (a file edited or damaged by
            hand: manifests are written atomically); the message says how to rebuild the stage.
    """
    path = Path(out_dir) / STAGE_MANIFEST
    if not path.is_file():
        return None
    # A rebuilt stage gets a new manifest, so the finished stages that read it are stale: hence --force.
    rebuild = f"delete {Path(out_dir)} and run again with --force to rebuild it and the stages that read it"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(path, f"not a stage manifest ({error.msg}, column {error.colno}); {rebuild}",
                         line=error.lineno) from None
    except UnicodeDecodeError:
        raise InputError(path, f"not a stage manifest (not UTF-8 text); {rebuild}") from None
    if not isinstance(manifest, dict):
        raise InputError(path, f"not a stage manifest (a JSON {type(manifest).__name__}, not an object); {rebuild}")
    missing = [key for key in required if key not in manifest]
    if missing:
        raise InputError(path, f"not a stage manifest (no {', '.join(missing)}); {rebuild}", field=missing[0])
    return manifest


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that shape training results (None if not installed)."""
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def launch_info(every_rank: bool) -> dict:
    """How the stage ran: ``world_size`` (processes of the launch), ``ran_on`` (``"every rank"`` or
    ``"rank 0"``), ``backend`` of the process group (``gloo``, ``nccl``; None single-process) and
    ``torch_threads``, torch's intra-op threads per process (None if the stage never imported torch).
    A training stage's ``final_metrics`` add what its Trainer saw (:func:`medreasoner.stages.training.train`).

    The thread count is recorded because it changes results: CPU kernels sum in a different order on
    1 thread than on 2, so the same SFT stage's weights differ after 8 steps (docs/recipes.md,
    "Reproducing a run")."""
    ran_on = "every rank" if every_rank else "rank 0"
    torch = sys.modules.get("torch")
    threads = None if torch is None else torch.get_num_threads()
    if torch is None or not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return {"world_size": 1, "ran_on": ran_on, "backend": None, "torch_threads": threads}
    return {"world_size": torch.distributed.get_world_size(), "ran_on": ran_on,
            "backend": str(torch.distributed.get_backend()), "torch_threads": threads}


def machine_info() -> dict:
    """The processor a stage ran on: ``cpu`` (its model name, from ``/proc/cpuinfo`` on Linux, else
    :func:`platform.processor`; None when neither says), ``cpu_capability`` (the instruction set torch's CPU
    kernels were dispatched to, e.g. ``AVX2`` or ``AVX512``; None if the stage never imported torch) and
    ``cpu_count`` (logical CPUs of the machine).

    Recorded because kernels for another instruction set sum in another order, so the same code and
    seed can rebuild different weights on another processor: two builds of the reproduce run on two
    machines differed in 31 of 42 per-seed rows (docs/recipes.md, "Reproducing a run")."""
    name = None
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    torch = sys.modules.get("torch")
    return {"cpu": name or platform.processor() or None,
            "cpu_capability": None if torch is None else torch.backends.cpu.get_cpu_capability(),
            "cpu_count": os.cpu_count()}


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a distributed launch (``RANK`` set by accelerate/torchrun)."""
    return os.environ.get("RANK", "0") == "0"


def check_fsdp_available(distributed_type: str) -> None:
    """Refuse an FSDP launch on CPU, which accelerate would silently turn into plain DDP.

    accelerate (1.15) switches a launch with ``distributed_type: FSDP`` to FSDP only when its state
    is a GPU-like type (``MULTI_GPU``, ``MULTI_XPU``...); on CPU the state is ``MULTI_CPU`` and the
    FSDP settings are ignored, so a run meant to shard would replicate the model instead. (DeepSpeed
    has no such gap: its CPU accelerator runs ZeRO-3 over gloo; docs/distributed.md.)

    Args:
        distributed_type: accelerate's distributed type of this process (``PartialState().distributed_type``).

    Raises:
        InputError: naming the launcher's environment variable, before any stage runs.
    """
    from accelerate.utils import parse_flag_from_env

    if parse_flag_from_env("ACCELERATE_USE_FSDP") and distributed_type == "MULTI_CPU":
        raise InputError("ACCELERATE_USE_FSDP", "the accelerate config asks for FSDP, but this launch runs on CPU, "
                         "where accelerate sets up MULTI_CPU (plain DDP) and ignores FSDP; launch with "
                         "configs/accelerate/cpu_ddp.yaml on CPU (see docs/distributed.md)")


_WAIT_GROUP: list = []  # the gloo group of the pipeline's barriers, while a launch is running


@contextmanager
def _process_group():
    # Under accelerate/torchrun (WORLD_SIZE > 1) the ranks must meet at barriers before any Trainer
    # exists, so the process group is set up here. PartialState does it the way the Trainer would
    # (gloo on CPU, nccl on GPU, deepspeed.comm under a DeepSpeed config) and the Trainer reuses it.
    # The barriers use their own gloo group with a long timeout (RANK0_STAGE_TIMEOUT).
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield
        return
    import torch

    created = not torch.distributed.is_initialized()
    state = accelerate_state()  # starts the group unless one exists
    check_fsdp_available(state.distributed_type.value)
    group = torch.distributed.new_group(backend="gloo", timeout=RANK0_STAGE_TIMEOUT)
    _WAIT_GROUP.append(group)
    try:
        yield
    finally:
        _WAIT_GROUP.clear()
    # Reached only when every stage succeeded (after an error the launcher stops the other ranks).
    # None: the default group and every other one (it was created here, so it is ours to end).
    torch.distributed.destroy_process_group(None if created else group)


def peak_rss_mib() -> float:
    """This process's resident-memory high-water mark since it started, in MiB.

    Not a stage's own peak: the largest over a run's stage manifests is the run's peak when one process ran
    them all (a resumed run starts a new process). Linux reports ``ru_maxrss`` in KiB, macOS in bytes.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _barrier() -> None:
    if _WAIT_GROUP:
        import torch

        torch.distributed.barrier(group=_WAIT_GROUP[-1])


def flatten_config(value, loc: tuple = ()) -> dict[str, object]:
    """Nested dicts as ``{"a.b[0]"-style field: leaf value}`` (lists and empty dicts are leaves)."""
    if isinstance(value, dict) and value:
        return {k: v for key, item in value.items() for k, v in flatten_config(item, loc + (key,)).items()}
    return {format_field(loc): value}


def _changes(old: dict, new: dict) -> str:
    before, after = flatten_config(old), flatten_config(new)
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k, "<unset>") != after.get(k, "<unset>")]
    shown = [f"{k}: {before.get(k, '<unset>')!r} -> {after.get(k, '<unset>')!r}" for k in keys[:4]]
    return "; ".join(shown) + (f"; and {len(keys) - 4} more" if len(keys) > 4 else "")


def _brief(metrics: dict) -> str:
    shown = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(metrics.items())[:6]]
    return "(" + ", ".join(shown) + ")" if shown else ""
