"""The model card (``README.md``) of every trained checkpoint: what the model was built from, by what.

Written with huggingface_hub's ``ModelCard`` from this module's template. The YAML metadata holds the
Hub fields (``base_model`` when the lineage reaches a Hub id, ``library_name``, ``tags``) and a
``medreasoner`` mapping with the lineage, which a later stage's card reads back:

- the base model path (the stage's ``model.path``) and, when that directory's own card names one,
  the base it was trained from;
- the recipe file and the stage name;
- every training data file named in the stage's ``data:`` section, with its sha256 (as the stage
  manifest hashes inputs: :func:`medreasoner.files.path_sha256`);
- the final metrics, the medreasoner git commit (:func:`medreasoner.source_commit.source_commit`: None
  outside a git checkout, ``+dirty`` with uncommitted changes) and the library versions.

In a recipe the hashes, commit and versions are the ones the pipeline took for the stage manifest
before the stage ran (``ctx.provenance``), so card and manifest agree and no data file is hashed twice.

TRL's card generator (``trl.trainer.utils.generate_model_card``) is not used: its template links the
base model and the dataset as Hub repositories (``https://huggingface.co/<base_model>``), so a local
base path becomes a broken link, and it has no place for hashes or metrics.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from huggingface_hub import ModelCard, ModelCardData
from pydantic import BaseModel

from medreasoner.files import path_sha256
from medreasoner.pipeline import library_versions
from medreasoner.recipe import format_field
from medreasoner.recipe_inputs import config_strings
from medreasoner.source_commit import source_commit
from medreasoner.stages.context import StageContext, StageProvenance

CARD_FILE = "README.md"
# Fields under the ``data:`` section, as :func:`medreasoner.recipe.format_field` writes them.
DATA_FIELD = re.compile(r"data($|[.\[])")

TEMPLATE = """---
{{ card_data }}
---

# {{ stage }}

{% if recipe %}Stage `{{ stage }}` of the medreasoner recipe `{{ recipe }}`,
{%- else %}The medreasoner stage `{{ stage }}` (run outside a recipe),
{%- endif %} trained with TRL's `{{ trainer }}`.

## Lineage

- Base model: `{{ base_model_path }}`{% if base_of_base %}, itself trained from `{{ base_of_base }}`{% endif %}
- Recipe: {% if recipe %}`{{ recipe }}`, stage `{{ stage }}`{% else %}none{% endif %}
- medreasoner commit: {% if git_commit %}`{{ git_commit }}`{% else %}unknown (not run from a git checkout){% endif %}

## Training data

| field | path | sha256 |
|---|---|---|
{% for file in data %}| `{{ file.field }}` | `{{ file.path }}` | `{{ file.sha256 }}` |
{% endfor %}
## Final metrics

| metric | value |
|---|---|
{% for name, value in metrics.items() %}| `{{ name }}` | {{ value }} |
{% endfor %}
## Framework versions

{% for name, version in versions.items() %}- {{ name }}: {{ version }}
{% endfor %}
## Use

{% if model_class == "AutoModelForCausalLM" %}Generation stops at the chat template's end-of-turn token
(`generation_config.json`).
{% else %}A scalar reward model: one logit per sequence.
{% endif %}
```python
from transformers import {{ model_class }}, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{{ model_dir }}")
model = {{ model_class }}.from_pretrained("{{ model_dir }}")
```
"""


def write_model_card(directory: Path, *, ctx: StageContext, config: BaseModel, trainer_name: str,
                     model_class: str, metrics: dict) -> Path:
    """Write ``directory/README.md`` for a checkpoint trained by a stage.

    Args:
        directory: where the checkpoint files are (the stage's staging directory).
        ctx: the stage context (``out_dir``: the stage name and published path; ``recipe``; ``provenance``).
        config: the stage's validated config (``model.path``, ``data:`` paths).
        trainer_name: the Trainer class (``SFTTrainer``, ``GRPOTrainer``...).
        model_class: the transformers Auto class that loads the checkpoint (``AutoModelForCausalLM``,
            ``AutoModelForSequenceClassification``), for the card's usage snippet.
        metrics: the stage's final metrics (numbers and strings are listed; lists and mappings left out).

    Returns:
        The card's path.
    """
    base_model_path = str(config.model.path)
    base_card = _card_metadata(Path(base_model_path))
    base_of_base = (base_card.get("medreasoner") or {}).get("base_model_path") or base_card.get("base_model")
    # Hub metadata: the base when it is a Hub id, else the Hub id the base's own card traces back to.
    hub_base = base_card.get("base_model") if Path(base_model_path).exists() else base_model_path
    shown_metrics = {k: v for k, v in metrics.items() if isinstance(v, int | float | str) and not isinstance(v, bool)}
    recipe = str(ctx.recipe) if ctx.recipe is not None else None
    provenance = ctx.provenance or StageProvenance(inputs=data_files(config), versions=library_versions(),
                                                   git_commit=source_commit())
    lineage = {
        "recipe": recipe, "stage": Path(ctx.out_dir).name, "trainer": trainer_name,
        "base_model_path": base_model_path, "base_model_origin": base_of_base,
        "data": card_data_files(provenance.inputs), "final_metrics": shown_metrics,
        "git_commit": provenance.git_commit, "versions": dict(provenance.versions),
    }
    card_data = ModelCardData(base_model=hub_base, library_name="transformers",
                              tags=["medreasoner", "trl", trainer_name], medreasoner=lineage)
    card = ModelCard.from_template(card_data, template_str=TEMPLATE, **{**lineage, "base_of_base": base_of_base,
                                   "metrics": shown_metrics, "model_dir": str(ctx.out_dir),
                                   "model_class": model_class})
    path = Path(directory) / CARD_FILE
    card.save(str(path))
    return path


def card_data_files(inputs: list[dict]) -> list[dict]:
    """The card's ``[{"field", "path", "sha256"}]``: the inputs named in the ``data:`` section.

    The card lists each data file's own content hash. An input inside an earlier stage's output
    carries that stage's manifest hash instead (the manifest's lineage link, which says nothing of
    the file's bytes), so that file is hashed here, the only time in the stage.
    """
    files = []
    for item in inputs:
        if not DATA_FIELD.match(item["field"]):
            continue
        if "sha256" in item:
            files.append({"field": item["field"], "path": item["path"], "sha256": item["sha256"]})
        elif Path(item["path"]).exists():  # a stage reference is recorded whether or not the path exists
            files.append({"field": item["field"], "path": item["path"], "sha256": path_sha256(Path(item["path"]))})
    return files


def data_files(config: BaseModel) -> list[dict]:
    """``[{"field", "path", "sha256"}]`` for every existing path in the stage's ``data:`` section.

    For a stage run outside a recipe, which has no :class:`StageProvenance`. A directory (a CPT
    corpus) is hashed as the stage manifest hashes it (its manifest, or its listing).
    """
    section = getattr(config, "data", None)
    if section is None:
        return []
    files = []
    for loc, value in config_strings(section.model_dump(mode="json"), ("data",)):
        field = format_field(loc)
        if value and Path(value).exists():
            files.append({"field": field, "path": value, "sha256": path_sha256(Path(value))})
    return files


def _card_metadata(model_dir: Path) -> dict:
    # The YAML metadata of a model directory's card; {} when there is none (a hub id, a model without a card).
    path = model_dir / CARD_FILE
    if not path.is_file():
        return {}
    try:
        return ModelCard.load(str(path)).data.to_dict()
    except (ValueError, OSError, yaml.YAMLError):  # a README that is not a model card
        return {}
