"""The accelerate state of a launch, started the same way by every caller before any Trainer exists.

Both the pipeline (its barriers between stages) and the dataset cache (rank 0 builds, the others wait)
may be the first to touch the process group of an ``accelerate launch``/torchrun run; whoever comes
first starts it, and the Trainer later reuses it. They must start it identically, so it is done here.
"""

from __future__ import annotations

from datetime import timedelta

# The timeout of the Trainer's collectives: TrainingArguments.ddp_timeout's default (1800 s), what the
# group gets when the Trainer starts it (tests/test_stage_datasets.py checks they agree). A shorter one
# (NCCL's own default is 10 min) would end the other ranks' wait while rank 0 builds a dataset cache.
PROCESS_GROUP_TIMEOUT = timedelta(minutes=30)


def accelerate_state():
    """accelerate's ``PartialState``, starting the process group under a launch if none exists yet.

    ``cpu=True`` when no GPU is visible (or the launch asks for CPU): otherwise accelerate finds no
    device backend on a CPU-only multi-process launch and counts one process.
    """
    # Imported here: importing the modules that call this should not import torch.
    import torch
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    return PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available(),
                        timeout=PROCESS_GROUP_TIMEOUT)
