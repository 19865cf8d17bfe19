"""Where every reported number comes from: model, data, source commit and date of each eval directory.

For every (run, benchmark) the report lists:

- **model**: the identity recorded beside the predictions (:mod:`medreasoner.eval.provenance`): a
  local directory's path and the SHA-256 over its weights, tokenizer and config, or the endpoint and
  model name it answered as;
- **data**: the benchmark file the items were read from and its hash when the run recorded one. A
  pipeline's eval stage records, per input, either the file's SHA-256 or, for a file written by an
  earlier stage of the run, that stage's manifest hash (the manifest holds the hashes of what the
  stage read and wrote). Without a stage manifest (``medreasoner eval`` on its own) the hash is
  results.json's ``data_sha256`` (:func:`medreasoner.eval.runner.source_record`; for a directory,
  :func:`medreasoner.files.path_sha256`'s hash, as a manifest records it);
- **commit**: the medreasoner source commit the eval ran from (``+dirty`` with uncommitted
  changes), from the stage manifest, else results.json's ``git_commit``;
- **date**: the day (UTC) the eval stage started, or, outside a pipeline, the day results.json was
  last written.

A field neither source holds (results.json written before ``data_sha256``/``git_commit`` were
recorded, or a commit outside a git checkout) reads ``not recorded``. Modes of one benchmark share a
row when all of these agree.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from medreasoner.pipeline import read_manifest

NOT_RECORDED = "not recorded"


def _model(body: dict) -> tuple[str, str]:
    identity = body.get("model_identity") or {}
    kind = identity.get("kind")
    if kind == "local":
        return str(identity.get("path")), identity.get("sha256") or NOT_RECORDED
    if kind == "endpoint":
        return f"endpoint {identity.get('endpoint')} (model {identity.get('model')})", "–"
    backend = body.get("backend") or {}
    return f"{backend.get('backend', '?')} model {identity.get('model', backend.get('model', '?'))}", NOT_RECORDED


def _data_hash(body: dict, manifest: dict | None) -> str:
    """The stage manifest's hash of the data (pipeline), else the one results.json recorded."""
    for entry in (manifest or {}).get("inputs", []):
        if Path(str(entry.get("path"))) != Path(str(body.get("data"))):
            continue
        if entry.get("sha256"):
            return entry["sha256"]
        if entry.get("manifest_sha256"):
            return f"written by stage {entry.get('stage')} (manifest {entry['manifest_sha256']})"
    return body.get("data_sha256") or NOT_RECORDED


def _commit(body: dict, manifest: dict | None) -> str:
    """The stage manifest's source commit (pipeline), else the one results.json recorded."""
    return (manifest or {}).get("git_commit") or body.get("git_commit") or NOT_RECORDED


def _date(body: dict, manifest: dict | None) -> str:
    if manifest and manifest.get("started_at"):
        return str(manifest["started_at"])[:10]
    written = (Path(body["_dir"]) / "results.json").stat().st_mtime
    return dt.datetime.fromtimestamp(written, dt.UTC).date().isoformat()


def provenance_rows(runs: list[tuple[str, dict]]) -> tuple[list[str], list[list[str]]]:
    """One row per run and benchmark (per mode when the modes differ in any field)."""
    header = ["run", "benchmark", "modes", "model", "model sha256", "data", "data sha256", "commit", "date"]
    rows: list[list[str]] = []
    for label, results in runs:
        merged: dict[tuple, list[str]] = {}  # (benchmark, fields) -> modes, so identical modes share a row
        for (name, mode), body in sorted(results.items()):
            manifest = read_manifest(Path(body["_dir"]).parent)
            fields = (*_model(body), str(body.get("data")), _data_hash(body, manifest), _commit(body, manifest),
                      _date(body, manifest))
            merged.setdefault((name, fields), []).append(mode)
        for (name, fields), modes in merged.items():
            rows.append([label, name, ", ".join(modes), *fields])
    return header, rows
