"""Stage ``world``: build the synthetic clinical world (the data every later stage trains on).

Wraps :func:`medreasoner.sim.world.build_world`; the config is the world config itself (the keys of
``configs/world/*.yaml``). Unlike the papers, whose diagnostic chains come from hospital EMRs
(WiNGPT-3.0 S4) and exam commentaries (Preferred-MedLLM RPO), every case here is sampled from an
evidence-based knowledge base, so labels are Bayes-optimal and the data can be shipped.

The world's ``seed`` is its own knob, not the recipe's: changing the training seed keeps the data.

    # one machine, any number of GPUs (the stage is CPU-only and takes seconds)
    medreasoner run recipes/tiny/pipeline.yaml
    # standalone
    medreasoner data build-world --config configs/world/tiny.yaml --output runs/world-tiny
"""

from __future__ import annotations

from medreasoner.sim.config import WorldConfig
from medreasoner.sim.world import build_world
from medreasoner.stages.context import StageContext

Config = WorldConfig  # the recipe's `config:` section is a world config (extra keys forbidden)


def run(config: Config, ctx: StageContext) -> dict:
    """Write the world into ``ctx.out_dir``; returns counts and Bayes-optimal accuracy per split."""
    manifest = build_world(config, ctx.out_dir)
    metrics = {f"count/{name}": count for name, count in manifest["counts"].items()}
    for split, figures in manifest["accuracy"].items():
        metrics.update({f"{split}/{name}": value for name, value in figures.items()})
    ctx.log(metrics, 0)
    return metrics
