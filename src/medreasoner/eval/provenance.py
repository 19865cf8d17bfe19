"""What model produced an evaluation directory's predictions: its content hash, or its endpoint.

Every ``<output>/<benchmark>_<mode>/`` records ``model_identity.json``:

- a local model directory (``hf``, ``vllm`` backends): ``{"kind": "local", "path", "sha256",
  "files"}``, the SHA-256 over the weights (``*.safetensors``, or ``pytorch_model*.bin`` for old
  checkpoints), the tokenizer files and ``config.json``, each file read in 1 MiB chunks (multi-GB
  shards never sit in memory). ``sha256`` hashes the sorted ``name<TAB>file sha256`` lines, so it
  changes when any of those files changes and not when the directory is moved or other files
  (checkpoints, logs) are added;
- an OpenAI-compatible endpoint: ``{"kind": "endpoint", "endpoint", "model"}``;
- anything else (a hub id, a test backend): ``{"kind": "name", "backend", "model"}``.

A resume into a directory whose predictions came from another identity is refused
(:func:`check_identity`): the stored predictions would otherwise be reported together with the new
model's as one result.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.files import file_sha256, write_json_atomic

IDENTITY_FILE = "model_identity.json"
WEIGHT_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "pytorch_model*.bin.index.json")
TOKENIZER_PATTERNS = ("tokenizer*", "special_tokens_map.json", "added_tokens.json", "vocab.*", "merges.txt",
                      "*.tiktoken", "chat_template.jinja", "chat_template.json")
CONFIG_PATTERNS = ("config.json", "adapter_config.json")

_CACHE: dict[tuple, dict] = {}


def model_files(directory: Path) -> list[Path]:
    """The files of a model directory that decide its outputs (weights, tokenizer, config.json)."""
    found = {p for pattern in WEIGHT_PATTERNS + TOKENIZER_PATTERNS + CONFIG_PATTERNS
             for p in Path(directory).glob(pattern) if p.is_file()}
    return sorted(found)


def directory_identity(directory: Path) -> dict:
    """``{"kind": "local", "path", "sha256", "files": {name: sha256}}`` of a local model directory.

    Hashes are cached per process on (name, size, mtime) of the files, so ``--mode both`` hashes once.
    """
    directory = Path(directory)
    files = model_files(directory)
    key = (str(directory.resolve()), tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key not in _CACHE:
        hashes = {p.name: file_sha256(p) for p in files}
        overall = hashlib.sha256("".join(f"{name}\t{h}\n" for name, h in hashes.items()).encode()).hexdigest()
        _CACHE[key] = {"kind": "local", "sha256": overall, "files": hashes}
    return {"kind": "local", "path": str(directory), **{k: v for k, v in _CACHE[key].items() if k != "kind"}}


def model_identity(described: dict) -> dict:
    """The identity of the model behind a backend, from its ``describe()`` dict."""
    if described.get("endpoint"):
        return {"kind": "endpoint", "endpoint": described["endpoint"], "model": described.get("model")}
    model = described.get("model")
    if model and Path(str(model)).is_dir():
        return directory_identity(Path(str(model)))
    return {"kind": "name", "backend": described.get("backend"), "model": model}


def describe_identity(identity: dict) -> str:
    """One-line form for messages: ``sha256:1a2b3c4d5e6f (path)``, ``endpoint URL model NAME``..."""
    if identity.get("kind") == "local":
        return f"sha256:{identity['sha256'][:12]} ({identity.get('path')})"
    if identity.get("kind") == "endpoint":
        return f"endpoint {identity.get('endpoint')} model {identity.get('model')}"
    return f"{identity.get('backend')} model {identity.get('model')}"


def _same(previous: dict, current: dict) -> bool:
    if previous.get("kind") != current.get("kind"):
        return False
    if current["kind"] == "local":
        return previous.get("sha256") == current["sha256"]  # the path may move; the content may not change
    fields = ("endpoint", "model") if current["kind"] == "endpoint" else ("backend", "model")
    return all(previous.get(f) == current.get(f) for f in fields)


def check_identity(run_dir: Path, identity: dict, has_predictions: bool) -> None:
    """Record ``identity`` in ``run_dir``; refuse when its predictions came from another model.

    A directory with predictions but no identity file (written before identities were recorded)
    cannot be checked; it adopts the current identity.

    Raises:
        InputError: naming the directory and both identities.
    """
    path = Path(run_dir) / IDENTITY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if has_predictions and path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if not _same(previous, identity):
            raise InputError(run_dir, f"holds predictions of {describe_identity(previous)}, not of the model "
                             f"evaluated now, {describe_identity(identity)}; use a new --output directory "
                             "(or delete this one) instead of mixing two models' predictions")
        if previous == identity:
            return
    write_json_atomic(path, identity)
