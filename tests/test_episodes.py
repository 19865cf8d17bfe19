r"""Environment episodes (WiNGPT-3.0 S4): demonstrations, the episode evaluator, the ``episodes`` stage.

A scripted policy replays each expert demonstration through :func:`play_episodes`; the resulting
token sequence must be exactly what TRL's SFTTrainer tokenises for that demonstration, and the
prompt, chat template and tool-result tokens must be GRPOTrainer's own.

Run: .venv/bin/python -m pytest tests/test_episodes.py -q
"""

from __future__ import annotations

import json

import pytest

from sim_testing import small_world, world_with_model

from medreasoner.eval.episodes import (
    episode_chat_template,
    majority_correct,
    play_episodes,
    prompt_ids,
    score_episode,
    summarize,
    tool_suffix_ids,
)
from medreasoner.errors import InputError
from medreasoner.model import load_tokenizer
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.environment import DiagnosticEnvironment, environment_factory
from medreasoner.sim.episodes import observed_prompt, tool_methods
from medreasoner.sim.expert import MAX_EXAMS
from medreasoner.sim.world import build_world
from medreasoner.sim.world_cases import load_world_cases
from medreasoner.stages.datasets import load_conversations
from medreasoner.verify import grade

WORLD = small_world(seed=5, train=24, validation=6, test=6)


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return world_with_model(tmp_path_factory.mktemp("episodes"), WORLD)


def _reply(tokenizer, content: str = "", call: dict | None = None) -> list[int]:
    """Token ids of one assistant reply as the training template writes it (empty think block first)."""
    text = "<think>\n\n</think>\n\n" + content
    if call is not None:
        text += f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"
    return tokenizer.encode(text + tokenizer.eos_token, add_special_tokens=False)


def _demo_plan(demo):
    """A demonstration's tool calls (dicts) and its last assistant message's content (a string)."""
    return ([m["tool_calls"][0]["function"] for m in demo["messages"] if m.get("tool_calls")]
            + [demo["messages"][-1]["content"]])


def _expert(tokenizer, demos):
    """A scripted policy that replays each demonstration: its exams in order, then its answer."""
    plans = [_demo_plan(demo) for demo in demos]

    def generate(prompts):
        active = [plan for plan in plans if plan]  # finished episodes are no longer asked
        assert len(active) == len(prompts)
        replies = []
        for plan in active:
            step = plan.pop(0)
            replies.append(_reply(tokenizer, call=step) if isinstance(step, dict) else _reply(tokenizer, step))
        return replies

    return generate


def test_world_writes_env_splits_and_demonstrations(setup):
    world, _, _ = setup
    manifest = json.loads((world / "manifest.json").read_text())
    for split, n in (("train", 24), ("validation", 6), ("test", 6)):
        rows = _read(world / f"env/{split}.jsonl")
        assert len(rows) == manifest["counts"][f"env/{split}.jsonl"] == n
        assert all(json.loads(r["case"])["id"].startswith(split) for r in rows)
    demos, train = _read(world / "env/sft_train.jsonl"), _read(world / "env/train.jsonl")
    assert len(demos) == len(train)
    for demo, row in zip(demos, train):
        case = json.loads(row["case"])
        messages = demo["messages"]
        assert messages[0]["content"].startswith(row["prompt"][0]["content"]) and case["summary"] in messages[0]["content"]
        calls = [m["tool_calls"][0]["function"]["arguments"]["name"] for m in messages if m.get("tool_calls")]
        names = {exam["name"]: exam for exam in case["menu"].values()}
        assert len(calls) == len(set(calls)) <= MAX_EXAMS and set(calls) <= set(names)
        assert [m["role"] for m in messages] == ["user"] + ["assistant", "tool"] * len(calls) + ["assistant"]
        results = [m["content"] for m in messages if m["role"] == "tool"]
        assert results == [f"{name}: {names[name]['result']}" for name in calls]  # the environment's own results
        assert messages[-1]["content"].startswith("Most likely diagnosis: \\boxed{")
        assert [t["function"]["name"] for t in json.loads(demo["tools"])] == ["request_exam", "submit_diagnosis"]


def test_cpt_only_labels_get_no_demonstration(setup, tmp_path):
    world, _, _ = setup
    label = json.loads(_read(world / "env/train.jsonl")[0]["case"])["label"]["name"]
    from medreasoner.sim.kb import load_knowledge_base

    condition = next(c.id for c in load_knowledge_base().conditions if c.en == label)
    build_world(WorldConfig(**{**WORLD, "cpt_only_conditions": [condition]}), tmp_path / "w")
    labels = [json.loads(r["case"])["label"]["name"] for r in _read(tmp_path / "w/env/train.jsonl")]
    demos = _read(tmp_path / "w/env/sft_train.jsonl")
    assert label not in labels and len(demos) == len(labels) < len(_read(world / "env/train.jsonl"))
    assert all(label not in demo["messages"][-1]["content"] for demo in demos)


def test_expert_replay_is_the_sft_sequence_and_is_graded(setup):
    """The evaluator's token sequence == what SFTTrainer tokenises for the demonstration, and the
    replayed episode is scored by its stated answer and its exams."""
    world, _, tokenizer = setup
    rows, demos = _read(world / "env/train.jsonl")[:12], _read(world / "env/sft_train.jsonl")[:12]
    assert any(len(_demo_plan(demo)) > 1 for demo in demos)  # some episodes order exams
    episodes = play_episodes(rows, _expert(tokenizer, demos), tokenizer, max_turns=MAX_EXAMS, max_length=4096)
    dataset = load_conversations(world / "env/sft_train.jsonl")
    template = episode_chat_template(tokenizer)
    for index, episode in enumerate(episodes):
        demo = dataset[index]
        sft_ids = tokenizer.apply_chat_template(demo["messages"], tools=json.loads(demo["tools"]),
                                                chat_template=template, tokenize=True, return_dict=True)["input_ids"]
        assert sft_ids[: len(episode.ids)] == episode.ids
        assert tokenizer.decode(sft_ids[len(episode.ids):]) == "\n"  # the template's newline after the last <|im_end|>
        record = score_episode(episode)
        case = json.loads(rows[index]["case"])
        calls = [step["arguments"]["name"] for step in _demo_plan(demos[index])[:-1]]
        assert record["answered"] and not record["truncated"]
        assert record["num_exams"] == len(calls) == episode.rounds and record["exams"] == calls
        assert record["correct"] == grade(demos[index]["messages"][-1]["content"], _item(case)).correct
    summary = summarize([score_episode(e) for e in episodes])
    assert summary["accuracy"] == sum(score_episode(e)["correct"] for e in episodes) / len(episodes)
    assert summary["answered_rate"] == 1.0


def _item(case):
    from medreasoner.benchmarks.item import Item

    return Item(case["id"], "", {}, case["label"]["name"], "diagnosis", {"synonyms": case["label"]["synonyms"]})


def test_loop_runs_tools_appends_results_and_stops(setup):
    world, _, tokenizer = setup
    row = next(r for r in _read(world / "env/validation.jsonl") if json.loads(r["case"])["key_exams"])
    case = json.loads(row["case"])
    exam = next(iter(case["menu"].values()))
    script = [
        _reply(tokenizer, call={"name": "request_exam", "arguments": {"name": exam["name"]}}),
        _reply(tokenizer, call={"name": "no_such_tool", "arguments": {}}),  # fails, reported back
        _reply(tokenizer, call={"name": "request_exam", "arguments": {"name": "an exam not on the menu"}}),
        _reply(tokenizer, call={"name": "request_exam", "arguments": {"name": exam["name"]}}),  # beyond max_turns
    ]
    seen = []

    def generate(prompts):
        seen.append(tokenizer.decode(prompts[0]))
        return [script[len(seen) - 1]]

    episode = play_episodes([row], generate, tokenizer, max_turns=3, max_length=4096)[0]
    assert len(seen) == 4 and episode.rounds == 3  # 3 tool rounds, then the 4th reply is not executed
    assert f"<tool_response>\n{exam['name']}: {exam['result']}\n</tool_response>" in seen[1]
    assert "Tool no_such_tool not found." in seen[2] and "not available" in seen[3]
    record = score_episode(episode)
    assert record["num_tool_calls"] == 3 and record["num_tool_failures"] == 1 and record["num_exams"] == 1
    assert record["exam_cost"] == exam["cost"] and not record["answered"] and not record["correct"]
    # a wrong boxed answer is graded (answered, not correct); submit_diagnosis counts as the answer
    wrong = play_episodes([row], lambda p: [_reply(tokenizer, "\\boxed{Not a disease}")], tokenizer,
                          max_turns=3, max_length=4096)[0]
    assert score_episode(wrong)["answered"] and not score_episode(wrong)["correct"]
    calls = iter([_reply(tokenizer, call={"name": "submit_diagnosis", "arguments": {"diagnosis": case["label"]["name"]}}),
                  _reply(tokenizer, "Done.")])
    submitted = play_episodes([row], lambda p: [next(calls)], tokenizer, max_turns=3, max_length=4096)[0]
    assert score_episode(submitted)["correct"] and score_episode(submitted)["submitted"] == case["label"]["name"]


def test_context_limit_rolls_back_the_round(setup):
    world, _, tokenizer = setup
    row = _read(world / "env/validation.jsonl")[0]
    exam = next(iter(json.loads(row["case"])["menu"].values()))["name"]
    reply = _reply(tokenizer, call={"name": "request_exam", "arguments": {"name": exam}})
    env = DiagnosticEnvironment(max_turns=3)
    length = len(prompt_ids(tokenizer, observed_prompt(row, env), tool_methods(env), episode_chat_template(tokenizer)))
    episode = play_episodes([row], lambda p: [reply], tokenizer, max_turns=3, max_length=length + len(reply) + 3)[0]
    assert episode.truncated and episode.rounds == 0 and len(episode.completion) == 1


@pytest.mark.slow
def test_prompt_template_and_tool_suffix_are_grpo_trainers(setup, tmp_path, monkeypatch):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    world, model_dir, tokenizer = setup
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    rows = _read(world / "env/train.jsonl")[:2]
    trainer = GRPOTrainer(
        model=str(model_dir), reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
        args=GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, num_generations=2,
                        max_completion_length=64, max_steps=1, use_cpu=True, report_to=[], beta=0.0,
                        max_tool_calling_iterations=3, save_strategy="no"),
        train_dataset=Dataset.from_list(rows), processing_class=load_tokenizer(model_dir, padding_side="left"),
        environment_factory=environment_factory(max_turns=3))
    template = episode_chat_template(tokenizer)
    assert trainer.chat_template == template is not None  # the Qwen3 template is not prefix-preserving
    prompts = []
    for row in rows:
        env = DiagnosticEnvironment(max_turns=3)
        prompts.append(observed_prompt(row, env))
    trainer._batch_environments = [None] * len(prompts)
    trl_ids, _, _ = trainer._tokenize_prompts(prompts)
    for prompt, ids in zip(prompts, trl_ids):
        env = DiagnosticEnvironment(max_turns=3)
        assert prompt_ids(tokenizer, prompt, tool_methods(env), template) == list(ids)
    messages = [{"role": "tool", "name": "request_exam", "content": "vital signs: temperature 39.1 C"}]
    assert tool_suffix_ids(tokenizer, messages, template) == trainer._get_tool_suffix_ids(messages)


@pytest.mark.slow
def test_episodes_stage_writes_predictions_and_results(setup, tmp_path):
    from medreasoner.stages.episodes import Config, run
    from stage_testing import make_ctx

    world, model_dir, _ = setup
    logged = []
    config = Config(model=str(model_dir), dtype="float32", cases=str(world / "env/validation.jsonl"),
                    world=str(world), max_turns=2, max_new_tokens=8, limit=4, batch_size=3, sampling=None)
    metrics = run(config, make_ctx(tmp_path / "episodes", logged))
    predictions = _read(tmp_path / "episodes/predictions.jsonl")
    results = json.loads((tmp_path / "episodes/results.json").read_text())
    assert len(predictions) == 4 and results["metrics"]["num_episodes"] == 4 and results["dtype"] == "float32"
    assert {"id", "correct", "exams", "num_exams", "exam_cost", "key_exam_coverage", "final_text",
            "exam_choice_correct"} <= set(predictions[0])
    # each episode's exam choice is scored by the world's Bayes decision from the exams it ordered
    cases = load_world_cases(world)
    ids = {cases.model.kb.exams[e].en: e for e in cases.model.kb.exams}
    assert [p["exam_choice_correct"] for p in predictions] == [
        cases.bayes_answer(p["id"], [ids[name] for name in p["exams"]], p["label"]) == p["label"] for p in predictions]
    assert metrics["exam_choice_accuracy"] == sum(p["exam_choice_correct"] for p in predictions) / 4
    # and against the label-blind expert's exams for the case (the SFT demonstrations' path)
    for p in predictions:
        expert = [cases.model.kb.exams[e].en for e in cases.expert_exams(p["id"])]
        assert p["expert_exams"] == expert and p["same_exams_as_expert"] == (p["exams"] == expert)
    on = [p["correct"] for p in predictions if p["same_exams_as_expert"]]
    assert metrics["expert_path_rate"] == len(on) / 4
    assert metrics["accuracy_on_expert_path"] == (sum(on) / len(on) if on else None)
    # a world that is not the cases' is refused before a model loads
    other = tmp_path / "other_world"
    build_world(WorldConfig(**{**WORLD, "seed": 6}), other)
    with pytest.raises(InputError, match="the world's files do not match its manifest"):
        run(config.model_copy(update={"world": str(other)}), make_ctx(tmp_path / "episodes_other", []))
    assert not (tmp_path / "episodes_other/predictions.jsonl").exists()
    assert 0 <= metrics["accuracy"] <= 1 and len(results["metrics"]["accuracy_ci95"]) == 2
    assert logged and "episodes/accuracy" in logged[0][1]
    with pytest.raises(ValueError):
        Config(model="m", dtype="float32", cases="c", world=None, max_turns=0, max_new_tokens=8, limit=None,
               batch_size=1, sampling=None)
    with pytest.raises(ValueError):  # no hidden default: the dtype is required
        Config(model="m", cases="c", world=None, max_turns=2, max_new_tokens=8, limit=None, batch_size=1,
               sampling=None)
    with pytest.raises(ValueError):  # nor for the world: null says the cases are not a built world's
        Config(model="m", dtype="float32", cases="c", max_turns=2, max_new_tokens=8, limit=None, batch_size=1,
               sampling=None)
    with pytest.raises(ValueError):  # nor for sampling: null says greedy
        Config(model="m", dtype="float32", cases="c", world=None, max_turns=2, max_new_tokens=8, limit=None,
               batch_size=1)
    with pytest.raises(ValueError):  # one sample is not pass@k: greedy is sampling null
        Config(model="m", dtype="float32", cases="c", world=None, max_turns=2, max_new_tokens=8, limit=None,
               batch_size=1, sampling={"num_samples": 1, "temperature": 1.0, "top_p": 1.0})
    with pytest.raises(ValueError):  # the nucleus is part of the protocol: no hidden top_p
        Config(model="m", dtype="float32", cases="c", world=None, max_turns=2, max_new_tokens=8, limit=None,
               batch_size=1, sampling={"num_samples": 2, "temperature": 1.0})
    with pytest.raises(ValueError):  # a nucleus holds at most all the probability
        Config(model="m", dtype="float32", cases="c", world=None, max_turns=2, max_new_tokens=8, limit=None,
               batch_size=1, sampling={"num_samples": 2, "temperature": 1.0, "top_p": 1.5})


@pytest.mark.slow
def test_sampled_episodes_play_each_case_k_times_reproducibly(setup, tmp_path):
    """A sampled stage plays every case num_samples times, numbers the samples, reports pass@1 (mean
    per-case share) and pass@k from them, and the same seed draws the same episodes."""
    from medreasoner.stages.episodes import Config, run
    from stage_testing import make_ctx

    world, model_dir, _ = setup
    config = Config(model=str(model_dir), dtype="float32", cases=str(world / "env/validation.jsonl"),
                    world=str(world), max_turns=2, max_new_tokens=8, limit=3, batch_size=4,
                    sampling={"num_samples": 3, "temperature": 1.0, "top_p": 1.0})
    metrics = run(config, make_ctx(tmp_path / "a", []))
    predictions = _read(tmp_path / "a/predictions.jsonl")
    ids = [json.loads(row["case"])["id"] for row in _read(world / "env/validation.jsonl")[:3]]
    assert [p["id"] for p in predictions] == [i for i in ids for _ in range(3)]
    assert [p["sample"] for p in predictions] == [0, 1, 2] * 3
    shares = [sum(p["correct"] for p in predictions if p["id"] == i) / 3 for i in ids]
    assert metrics["accuracy"] == pytest.approx(sum(shares) / 3)
    assert metrics["pass_at_k"] == pytest.approx(sum(share > 0 for share in shares) / 3)
    assert metrics["num_cases"] == 3 and metrics["samples_per_case"] == 3 and metrics["num_episodes"] == 9
    results = json.loads((tmp_path / "a/results.json").read_text())
    assert results["sampling"] == {"num_samples": 3, "temperature": 1.0, "top_p": 1.0}
    # a random tiny model's samples differ (else this would not test sampling), and the seed fixes them
    assert len({p["final_text"] for p in predictions}) > 1
    # each episode records its answer and, the world being known, the condition that answer names
    cases = load_world_cases(world)
    assert all(p["answer_condition"] == cases.condition_named(p["answer"]) for p in predictions)
    assert "majority_accuracy" in metrics  # its value: test_summarize_reads_sampled_episodes_per_case
    run(config, make_ctx(tmp_path / "b", []))
    assert _read(tmp_path / "b/predictions.jsonl") == predictions
    # top_p reaches generation: a nucleus too small to hold a second token leaves only the likeliest one,
    # so every sample replays the greedy episode of its case
    run(config.model_copy(update={"sampling": None}), make_ctx(tmp_path / "greedy", []))
    greedy = {p["id"]: p["final_text"] for p in _read(tmp_path / "greedy/predictions.jsonl")}
    narrow = config.model_copy(update={"sampling": config.sampling.model_copy(update={"top_p": 1e-6})})
    run(narrow, make_ctx(tmp_path / "narrow", []))
    assert [p["final_text"] for p in _read(tmp_path / "narrow/predictions.jsonl")] == [
        greedy[i] for i in ids for _ in range(3)]


def test_summarize_reads_sampled_episodes_per_case():
    """Sampled episodes: pass@1 is the mean per-case share (not the pooled episode rate), its interval
    is over cases, and pass@k counts cases with some correct episode; greedy ones keep Wilson."""
    from medreasoner.eval.episodes import summarize
    from medreasoner.eval.metrics import wilson_ci

    def episode(case: str, correct: bool) -> dict:
        return {"id": case, "correct": correct, "num_exams": 1, "num_tool_calls": 1, "key_exam_coverage": 1.0,
                "exam_cost": 2.0, "wasted_cost": 0.0, "answered": True, "truncated": False,
                "num_completion_tokens": 10}

    outcomes = {"a": [True, True, True, True], "b": [True, False, False, False], "c": [False] * 4,
                "d": [False, True, True, False]}
    sampled = summarize([episode(case, c) for case, cs in outcomes.items() for c in cs])
    assert sampled["accuracy"] == pytest.approx((1 + 0.25 + 0 + 0.5) / 4)
    assert sampled["pass_at_k"] == 0.75 and sampled["num_cases"] == 4 and sampled["samples_per_case"] == 4
    low, high = sampled["accuracy_ci95"]
    assert 0 <= low < sampled["accuracy"] < high <= 1
    # unequal samples per case: pass@1 weighs cases equally, unlike the pooled rate (3/5)
    uneven = summarize([episode("a", True)] * 2 + [episode("b", False)] * 2 + [episode("b", True)])
    assert uneven["accuracy"] == pytest.approx((1 + 1 / 3) / 2) and uneven["samples_per_case"] == 2
    greedy = summarize([episode("a", True), episode("b", False), episode("c", True)])
    assert greedy["accuracy_ci95"] == list(wilson_ci(2, 3)) and "pass_at_k" not in greedy
    # episodes that record their answer also give maj@k: case a's answer is right, b's wrong (3 to 1)
    voted = [{**episode("a", True), "answer": "Asthma"}, {**episode("a", False), "answer": "Croup"},
             {**episode("b", True), "answer": "Asthma"}, {**episode("b", False), "answer": "Croup"},
             {**episode("b", False), "answer": "croup."}, {**episode("b", False), "answer": "Croup"}]
    assert summarize(voted)["majority_accuracy"] == pytest.approx((0.5 + 0) / 2)  # a: a 1-1 tie scores 0.5
    assert "majority_accuracy" not in sampled  # episodes played before answers were recorded


def test_majority_vote_counts_one_condition_in_any_wording_once():
    """maj@k: the answer most episodes gave decides; wordings of one condition (answer_condition) vote
    together, for the right answer and a wrong one alike; stating no diagnosis is a wrong vote; a tie
    scores the share of tied answers that are right."""
    def vote(*episodes):
        return majority_correct([{"correct": c, "answer": a, "answer_condition": k} for a, k, c in episodes])

    right, wrong, silent = ("Myocardial infarction", "mi", True), ("Influenza", "flu", False), (None, None, False)
    assert vote(right, right, wrong) == 1.0 and vote(wrong, wrong, right) == 0.0
    # two wordings of each: 2 votes each, a tie (0.5); by text alone, five 1-vote answers: 2 right of 5 tied
    both = [("MI", "mi", True), right, ("flu", "flu", False), wrong, ("Asthma", "asthma", False)]
    assert vote(*both) == 0.5
    assert majority_correct([{"correct": c, "answer": a} for a, _, c in both]) == pytest.approx(0.4)
    # no condition named (answer_condition null): the normalised text is the answer
    assert majority_correct([{"correct": False, "answer": "Croup.", "answer_condition": None},
                             {"correct": False, "answer": "croup", "answer_condition": None},
                             {"correct": True, "answer": "Asthma", "answer_condition": None}]) == 0.0
    # silence outvotes an answer, and counts as wrong: one right among silent ones does not win
    assert vote(silent, silent, right) == 0.0 and vote(silent, right, right) == 1.0
    assert vote(silent, right) == 0.5  # a tie between silence and the right answer
    # an answer that normalises to nothing ("." or "?") is no answer, not a shared wrong one
    junk = [(".", None, False), ("?", None, False), ("--", None, False)]
    assert vote(*junk, right, right) == 0.0  # three silent votes beat two right ones
    assert vote(junk[0], right, right) == 1.0
    assert vote(("Asthma", None, True), ("?", None, True)) == 0.5  # a grader's slip on junk still scores no answer


def test_world_names_the_condition_an_answer_is(setup):
    """condition_named maps an answer, after the grader's normalisation, to the knowledge-base condition whose
    English name, synonym or Japanese name it is; anything else is None."""
    world, _, _ = setup
    cases = load_world_cases(world)
    condition = next(c for c in cases.model.kb.conditions if c.synonyms)
    assert cases.condition_named(condition.en) == condition.id
    assert cases.condition_named(f"  {condition.synonyms[0].upper()}. ") == condition.id
    assert cases.condition_named(condition.ja) == condition.id
    assert cases.condition_named("not a condition at all") is None
    assert cases.condition_named(None) is None and cases.condition_named("") is None
    # a name two conditions share names neither (the answer then votes as its text)
    from types import SimpleNamespace

    from medreasoner.sim.world_cases import WorldCases

    def condition(id_, en, synonyms):
        return SimpleNamespace(id=id_, en=en, ja=f"{en}-ja", synonyms=synonyms)

    kb = SimpleNamespace(conditions=[condition("a", "Alpha", ["AB"]), condition("b", "Beta", ["ab."])])
    shared = WorldCases(world, SimpleNamespace(kb=kb), {})
    assert shared.condition_named("Alpha") == "a" and shared.condition_named("beta") == "b"
    assert shared.condition_named("ab") is None


def test_sft_loader_keeps_tools_as_json_and_rejects_mixed_rows(tmp_path):
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    path = tmp_path / "sft.jsonl"
    path.write_text(json.dumps({"messages": messages, "tools": tools}) + "\n"
                    + json.dumps({"messages": messages, "tools": json.dumps(tools)}) + "\n")
    dataset = load_conversations(path)
    assert [json.loads(t) for t in dataset["tools"]] == [tools, tools]
    path.write_text(json.dumps({"messages": messages, "tools": tools}) + "\n" + json.dumps({"messages": messages}) + "\n")
    with pytest.raises(InputError, match="every row has tools"):
        load_conversations(path)
    path.write_text(json.dumps({"messages": messages, "tools": "{not json"}) + "\n")
    with pytest.raises(InputError, match="not valid JSON"):
        load_conversations(path)
    path.write_text(json.dumps({"messages": messages}) + "\n")
    assert "tools" not in load_conversations(path).column_names
