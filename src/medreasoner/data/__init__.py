"""The data engine: WiNGPT-3.0's curation funnel and Preferred-MedLLM's self-sampled preferences.

One module per step; each is also a recipe stage kind (``medreasoner.stages.STAGES``) and a
``medreasoner data <step>`` command. A step module defines ``Config`` (pydantic, ``extra="forbid"``)
and ``run(config, ctx) -> metrics``; it reads JSONL (``config.input``) and writes into ``ctx.out_dir``
through :mod:`medreasoner.data.funnel`::

    data.jsonl       the rows the step keeps (or produces)
    dropped.jsonl    one line per dropped row: {"id", "reason", "detail"}
    funnel.json      {"step", "in", "out", "dropped": {reason: count}, "details": {...}}

Rows start as question-pool rows (:mod:`medreasoner.data.pool`); ``generate`` adds a response per
sample; the last step of a chain writes the training format of the stage that reads it (SFT
conversations, GRPO prompts, preference pairs, VRM conversations).

| step | module | WiNGPT-3.0 / Preferred-MedLLM |
|---|---|---|
| generate | :mod:`.generate` | teacher distillation, Think-Tracing, RL rollouts, explanation sampling |
| filter | :mod:`.filter` | ``<think>`` format, n-gram repetition, length, verified answer, RM score |
| dedup | :mod:`.dedup` | near-duplicate questions (MinHash LSH) |
| decontaminate | :mod:`.decontaminate` | benchmark overlap (normalised hash + 13-gram) |
| difficulty | :mod:`.difficulty` | Basic / Intermediate / Advanced |
| sample | :mod:`.sample` | difficulty-weighted SFT mix with a target domain/language mix |
| select_rl | :mod:`.select_rl` | RL candidates with mixed rollout outcomes, hardest first |
| preferences | :mod:`.preferences` | reference > correct sample > wrong sample (RPO pairs) |
| vrm_data | :mod:`.vrm_data` | verifier-reward-model training data |
| dagger | :mod:`.dagger` | S4: the expert takes over the episodes the model plays (DAgger) |
| select_episodes | :mod:`.select_episodes` | S4 RL candidates: cases with mixed sampled-episode outcomes, hardest first |
| replay | :mod:`.replay` | CPT text mixed into the SFT conversations (keeps what CPT taught through SFT) |
"""

# step name -> module; the recipe stage kinds of the data engine (registered in medreasoner.stages).
STEPS = {
    "generate": "medreasoner.data.generate",
    "filter": "medreasoner.data.filter",
    "dedup": "medreasoner.data.dedup",
    "decontaminate": "medreasoner.data.decontaminate",
    "difficulty": "medreasoner.data.difficulty",
    "sample": "medreasoner.data.sample",
    "select_rl": "medreasoner.data.select_rl",
    "preferences": "medreasoner.data.preferences",
    "vrm_data": "medreasoner.data.vrm_data",
    "dagger": "medreasoner.data.dagger",
    "select_episodes": "medreasoner.data.select_episodes",
    "replay": "medreasoner.data.replay",
}
