r"""The ``dagger`` data step (S4): the expert takes over a model's training episodes from every state it reached.

The rows must (1) be the expert's actions from exactly the states the model reached, never on the
expert's own path (the demonstrations hold those), and (2) train what the model will see: TRL's
SFTTrainer must tokenise a takeover row as the token sequence a policy gets when it plays those exams
in the environment, with the loss on the expert's turns only.

Run: .venv/bin/python -m pytest tests/test_data_dagger.py -q
"""

from __future__ import annotations

import json

import pytest
from trl import SFTConfig, SFTTrainer

from sim_testing import small_world, world_with_model

from medreasoner.cli import main
from medreasoner.data.dagger import Config, demonstration_rows, run, takeover_rows
from medreasoner.errors import InputError
from medreasoner.eval.episodes import play_episodes
from medreasoner.model import load_model, load_tokenizer
from medreasoner.sim.episodes import demonstration, takeover
from medreasoner.sim.expert import MAX_EXAMS
from medreasoner.sim.world_cases import load_world_cases
from medreasoner.stages.context import StageContext
from medreasoner.stages.datasets import load_conversations

WORLD = small_world(seed=6, train=24, validation=6, test=6)


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    world_dir, model_dir, _ = world_with_model(tmp_path_factory.mktemp("dagger"), WORLD)
    return world_dir, model_dir, load_world_cases(world_dir)


def _detour(world, rows):
    """(row, expert's exams, an exam of the menu the expert does not order first) of a case whose expert
    orders at least one exam."""
    for row in rows:
        hidden = json.loads(row["case"])
        expert = world.expert_exams(hidden["id"])
        other = [exam for exam in hidden["menu"] if exam not in expert[:1]]
        if expert and other:
            return row, expert, other[0]
    raise AssertionError("no case with an exam to order")


def test_takeover_from_the_start_is_the_worlds_demonstration(setup):
    world_dir, _, world = setup
    rows, demos = _read(world_dir / "env/train.jsonl"), _read(world_dir / "env/sft_train.jsonl")
    for row, demo in zip(rows, demos, strict=True):
        hidden = json.loads(row["case"])
        exams, condition = world.expert_takeover(hidden["id"], [], hidden["label"]["name"])
        diagnosis = condition.en
        taken = takeover(row, [], exams, diagnosis)
        assert taken["prompt"] + taken["completion"] == demo["messages"] == demonstration(row, exams, diagnosis)["messages"]
        assert taken["tools"] == demo["tools"]


def test_takeover_rows_label_the_states_off_the_experts_path(setup):
    world_dir, _, world = setup
    row, expert, other = _detour(world, _read(world_dir / "env/train.jsonl"))
    hidden = json.loads(row["case"])
    label = hidden["label"]["name"]

    kept, dropped = takeover_rows(row, list(expert), "", world)  # the expert's own path: nothing new to learn
    assert kept == [] and [d["reason"] for d in dropped] == ["on_expert_path"] * (len(expert) + 1)

    kept, dropped = takeover_rows(row, [other], "no answer", world)  # state 0 is on the path, state 1 is not
    assert [d["detail"].split(":")[0] for d in dropped] == ["state 0"] and [r["state"] for r in kept] == [1]
    taken = kept[0]
    assert taken["model_agrees"] is False  # the model answered nothing where the expert does something
    call, result = taken["prompt"][-2:]
    name = hidden["menu"][other]["name"]
    assert call["tool_calls"][0]["function"]["arguments"] == {"name": name}
    assert result == {"role": "tool", "name": "request_exam", "content": f"{name}: {hidden['menu'][other]['result']}"}
    exams, condition = world.expert_takeover(hidden["id"], [other], label)
    diagnosis = condition.en
    assert other not in exams and 1 + len(exams) <= MAX_EXAMS
    assert [m["tool_calls"][0]["function"]["arguments"]["name"] for m in taken["completion"][:-1:2]] == \
        [hidden["menu"][e]["name"] for e in exams]
    assert taken["completion"][-1]["content"] == f"Most likely diagnosis: \\boxed{{{diagnosis}}}"
    # the answer is the Bayes decision from everything seen, the model's exam included
    assert diagnosis == world.bayes_answer(hidden["id"], [other, *exams], label)
    # agreement: the expert's next exam ordered, or its diagnosis stated, where the model reached that state
    agreed = takeover_rows(row, [other, *exams], f"\\boxed{{{diagnosis}}}", world)[0]
    assert [r["model_agrees"] for r in agreed] == [True] * (1 + len(exams))
    if not exams:
        assert takeover_rows(row, [other], f"\\boxed{{{diagnosis.lower()}}}", world)[0][0]["model_agrees"]
        wrong = next(c.en for c in world.model.kb.conditions if c.en != diagnosis)
        assert not takeover_rows(row, [other], f"\\boxed{{{wrong}}}", world)[0][0]["model_agrees"]

    if len(expert) > 1:  # on the path for one exam, then off it
        detour = next(e for e in hidden["menu"] if e not in expert[:2])
        kept, dropped = takeover_rows(row, [expert[0], detour], "", world)
        assert [r["state"] for r in kept] == [2] and len(dropped) == 2


def _scripted(tokenizer, plans):
    """A policy that plays each plan: exam names to order, then the answer text (as the training template
    writes a reply: an empty think block first)."""
    plans = [list(plan) for plan in plans]

    def generate(prompts):
        replies = []
        for plan in [plan for plan in plans if plan]:
            step = plan.pop(0)
            text = "<think>\n\n</think>\n\n"
            if isinstance(step, dict):
                text += f"<tool_call>\n{json.dumps(step, ensure_ascii=False)}\n</tool_call>"
            else:
                text += step
            replies.append(tokenizer.encode(text + tokenizer.eos_token, add_special_tokens=False))
        assert len(replies) == len(prompts)
        return replies

    return generate


def _trl_rows(model_dir, path, tmp_path):
    """SFTTrainer's tokenised rows (input_ids, labels) of an SFT file, assistant-only loss as in s4.yaml."""
    tokenizer = load_tokenizer(model_dir, padding_side="right")
    args = SFTConfig(output_dir=str(tmp_path / "trainer"), max_length=4096, assistant_only_loss=True,
                     use_cpu=True, report_to=[], max_steps=1)
    trainer = SFTTrainer(model=load_model(model_dir, dtype="float32"), args=args,
                         train_dataset=load_conversations(path), processing_class=tokenizer)
    return tokenizer, list(trainer.train_dataset)


def test_sft_trains_the_experts_turns_on_the_sequence_the_model_plays(setup, tmp_path):
    """A takeover row, tokenised by TRL, is the token sequence of the episode played with the model's exams
    then the expert's, and only the expert's turns carry labels."""
    world_dir, model_dir, world = setup
    rows = _read(world_dir / "env/train.jsonl")
    row, _, other = _detour(world, rows)
    taken = takeover_rows(row, [other], "", world)[0][0]
    path = tmp_path / "takeover.jsonl"
    path.write_text(json.dumps(taken) + "\n", encoding="utf-8")
    tokenizer, (tokenised,) = _trl_rows(model_dir, path, tmp_path)

    plan = [m["tool_calls"][0]["function"] for m in taken["prompt"] + taken["completion"] if m.get("tool_calls")]
    episode, = play_episodes([row], _scripted(tokenizer, [[*plan, taken["completion"][-1]["content"]]]),
                             tokenizer, max_turns=4, max_length=4096)
    ids = tokenised["input_ids"]
    assert ids[: len(episode.ids)] == episode.ids and tokenizer.decode(ids[len(episode.ids):]) == "\n"

    trained = tokenizer.decode([t for t, label in zip(ids, tokenised["labels"]) if label != -100])
    expected = "".join(
        "<think>\n\n</think>\n\n" + (f"<tool_call>\n{json.dumps(m['tool_calls'][0]['function'])}\n</tool_call>"
                                      if m.get("tool_calls") else m["content"]) + "<|im_end|>\n"
        for m in taken["completion"] if m["role"] == "assistant")
    assert trained == expected
    assert json.dumps({"name": "request_exam", "arguments": {"name": json.loads(row["case"])["menu"][other]["name"]}}) \
        not in trained  # the model's own call is context


def test_demonstrations_train_the_same_tokens_in_either_layout(setup, tmp_path):
    world_dir, model_dir, _ = setup
    source = world_dir / "env/sft_train.jsonl"
    layout = tmp_path / "demos.jsonl"
    layout.write_text("".join(json.dumps(r) + "\n" for r in demonstration_rows(str(source))[:6]), encoding="utf-8")
    messages = tmp_path / "messages.jsonl"
    messages.write_text("".join(line + "\n" for line in source.read_text(encoding="utf-8").splitlines()[:6]),
                        encoding="utf-8")
    _, ours = _trl_rows(model_dir, layout, tmp_path)
    _, theirs = _trl_rows(model_dir, messages, tmp_path)
    assert [(r["input_ids"], r["labels"]) for r in ours] == [(r["input_ids"], r["labels"]) for r in theirs]


def _config(world_dir, **overrides):
    fields = dict(input=str(world_dir / "env/train.jsonl"), world=str(world_dir), model="no/such/model",
                  dtype="float32", demonstrations=str(world_dir / "env/sft_train.jsonl"), max_cases=4, max_turns=4,
                  max_new_tokens=8, batch_size=4, progress=False)
    return Config(**{**fields, **overrides})


def test_evaluation_cases_are_refused_before_a_model_loads(setup, tmp_path):
    world_dir, _, _ = setup
    ctx = StageContext(run_dir=tmp_path, out_dir=tmp_path / "out", seed=0, log=lambda metrics, step: None)
    with pytest.raises(InputError, match="validation-000000 is not a training case"):
        run(_config(world_dir, input=str(world_dir / "env/validation.jsonl")), ctx)
    bad = tmp_path / "train.jsonl"  # a row whose label is not its case's in this world
    rows = _read(world_dir / "env/train.jsonl")
    hidden = json.loads(rows[0]["case"])
    hidden["label"]["name"] = "Not a condition"
    bad.write_text(json.dumps({**rows[0], "case": json.dumps(hidden)}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="files do not match its manifest"):
        run(_config(world_dir, input=str(bad)), ctx)
    assert not (tmp_path / "out" / "data.jsonl").exists()


def test_step_runs_from_the_cli_and_writes_its_funnel(setup, tmp_path):
    world_dir, model_dir, _ = setup
    out = tmp_path / "dagger"
    fields = _config(world_dir, model=str(model_dir)).model_dump()
    assert main(["data", "dagger", "--output", str(out), *[f"{k}={v}" for k, v in fields.items()]]) == 0
    rows, funnel = _read(out / "data.jsonl"), json.loads((out / "funnel.json").read_text())
    demos = _read(world_dir / "env/sft_train.jsonl")
    assert [r["source"] for r in rows[: len(demos)]] == ["demonstration"] * len(demos)
    assert funnel["details"]["cases"] == 4 and funnel["details"]["demonstration_rows"] == len(demos)
    assert funnel["in"] == funnel["details"]["states"] + len(demos) == funnel["out"] + len(_read(out / "dropped.jsonl"))
    assert funnel["dropped"]["on_expert_path"] >= 4  # every episode starts on the expert's path
    takeovers = [r for r in rows if r["source"] == "takeover"]
    details = funnel["details"]
    assert details["takeover_rows"] == len(takeovers)
    if takeovers:  # a random model's episodes may never leave the expert's path
        assert details["model_agreement"] == sum(r["model_agrees"] for r in takeovers) / len(takeovers)
    assert load_conversations(out / "data.jsonl").column_names == ["prompt", "completion", "tools"]
    # DAgger's next iteration: an earlier output passes through as it is, ahead of the new takeover rows
    again = tmp_path / "dagger2"
    fields["demonstrations"] = str(out / "data.jsonl")
    assert main(["data", "dagger", "--output", str(again), *[f"{k}={v}" for k, v in fields.items()]]) == 0
    assert _read(again / "data.jsonl")[: len(rows)] == rows
    assert json.loads((again / "funnel.json").read_text())["details"]["demonstration_rows"] == len(rows)


def test_sft_loader_reads_either_layout_but_not_both(tmp_path):
    user, reply = {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}
    path = tmp_path / "sft.jsonl"
    path.write_text(json.dumps({"prompt": [user], "completion": [reply]}) + "\n")
    assert load_conversations(path)[0] == {"prompt": [user], "completion": [reply]}
    path.write_text(json.dumps({"prompt": [user], "completion": [reply]}) + "\n"
                    + json.dumps({"messages": [user, reply]}) + "\n")
    with pytest.raises(InputError, match=r"sft\.jsonl:2.*completion"):
        load_conversations(path)
    path.write_text(json.dumps({"prompt": [user], "completion": [user]}) + "\n")
    with pytest.raises(InputError, match="last message must be the assistant's"):
        load_conversations(path)
