"""The stages' losses against hand computation on one tiny batch.

- RPO (Pang et al. 2024, arXiv 2404.19733): TRL's ``loss_type=[sigmoid, sft]`` with weights ``[1, α]``
  equals mean_i(-log σ(β·Δ_i)) + α · (mean NLL of the chosen completion tokens).
- Scaled Bradley-Terry (HelpSteer2-Preference, arXiv 2410.01257): mean_i(-m_i · log σ(r_c,i - r_r,i)).

Run: .venv/bin/python -m pytest tests/test_losses.py -q
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer

from medreasoner.model import load_model, load_tokenizer
from medreasoner.stages import preference, reward_model
from medreasoner.stages.datasets import load_preferences
from stage_testing import build_model, write_world

BETA, ALPHA = 0.1, 0.7
COMMON = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False, "report_to": "none",
          "per_device_train_batch_size": 4, "max_length": 128, "seed": 0}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("losses")
    files = write_world(root, num_rows=8)
    return root, files, build_model(root, files)


def _completion_logps(model, batch):
    """Per-token log-probs of the next token, and the completion mask aligned with them. (B, T-1) each."""
    ids = batch["input_ids"]
    logits = model(input_ids=ids, attention_mask=batch["attention_mask"]).logits[:, :-1]
    token_logps = logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return token_logps, batch["completion_mask"][:, 1:].bool()


def _dpo_trainer(root, files, model_dir, loss):
    section = preference.PreferenceSection(loss=loss, beta=BETA, rpo_alpha=ALPHA if loss == "rpo" else None,
                                           precompute_ref_log_probs=False)
    args = DPOConfig(output_dir=str(root / loss), beta=BETA, **preference.loss_arguments(section), **COMMON)
    policy = load_model(model_dir, dtype="float32")
    trainer = DPOTrainer(model=policy, args=args, train_dataset=load_preferences(files["preference"], with_margin=False),
                         processing_class=load_tokenizer(model_dir, padding_side="right"))
    torch.manual_seed(1)
    with torch.no_grad():  # move the policy away from the reference so the DPO term is not log 2
        for parameter in policy.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return trainer


def test_rpo_loss_is_dpo_plus_alpha_nll(world):
    root, files, model_dir = world
    trainer = _dpo_trainer(root, files, model_dir, "rpo")
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.eval()
    with torch.no_grad():
        trl_loss = trainer.compute_loss(trainer.model, batch).item()
        policy_logps, mask = _completion_logps(trainer.model, batch)
        reference_logps, _ = _completion_logps(load_model(model_dir, dtype="float32"), batch)
    policy_seq = (policy_logps * mask).sum(1)  # (2B,) = [chosen; rejected]
    reference_seq = (reference_logps * mask).sum(1)
    pc, pr = policy_seq.chunk(2)
    rc, rr = reference_seq.chunk(2)
    dpo = -F.logsigmoid(BETA * ((pc - rc) - (pr - rr))).mean().item()
    chosen_logps, chosen_mask = policy_logps.chunk(2)[0], mask.chunk(2)[0]
    nll = -chosen_logps[chosen_mask].mean().item()
    assert abs(dpo - math.log(2)) > 1e-3  # policy != reference, so the DPO term is not trivial
    assert trl_loss == pytest.approx(dpo + ALPHA * nll, rel=1e-5, abs=1e-5)


def _reward_trainers(root, files, model_dir):
    tokenizer = load_tokenizer(model_dir, padding_side="right")
    trainers = {}
    for loss, trainer_cls in reward_model.TRAINERS.items():
        torch.manual_seed(0)  # identical fresh score heads
        model = load_model(model_dir, dtype="float32", num_labels=1)
        args = RewardConfig(output_dir=str(root / loss), **COMMON)
        dataset = load_preferences(files["preference"], with_margin=loss == "scaled_bradley_terry")
        trainers[loss] = trainer_cls(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    return trainers


def test_scaled_bradley_terry_matches_hand_formula(world):
    root, files, model_dir = world
    trainers = _reward_trainers(root, files, model_dir)
    scaled, plain = trainers["scaled_bradley_terry"], trainers["bradley_terry"]
    assert isinstance(plain, RewardTrainer) and type(plain) is RewardTrainer
    batch = next(iter(scaled.get_train_dataloader()))
    assert "margin" in batch and len(set(batch["margin"].tolist())) > 1  # per-pair magnitudes 1..3
    scaled.model.eval()
    plain.model.eval()
    with torch.no_grad():
        rewards = scaled.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.squeeze(-1)
        chosen, rejected = rewards.chunk(2)
        by_hand = -(batch["margin"] * F.logsigmoid(chosen - rejected)).mean().item()
        assert scaled.compute_loss(scaled.model, dict(batch)).item() == pytest.approx(by_hand, rel=1e-5)

        # m = 2 for every pair gives exactly twice TRL's plain Bradley-Terry loss on the same batch.
        doubled = dict(batch, margin=torch.full_like(batch["margin"], 2.0))
        no_margin = {k: v for k, v in batch.items() if k != "margin"}
        bt = plain.compute_loss(plain.model, no_margin).item()
        assert bt == pytest.approx(-F.logsigmoid(chosen - rejected).mean().item(), rel=1e-5)
        assert scaled.compute_loss(scaled.model, doubled).item() == pytest.approx(2 * bt, rel=1e-5)
