"""Evaluation: prompts per benchmark and mode, generation backends, resumable predictions, metrics
with confidence intervals, answer-vs-explain stability, and Markdown/HTML reports.

Entry points: :func:`medreasoner.eval.runner.evaluate_benchmark` (used by ``medreasoner eval`` and the
``eval`` pipeline stage), :func:`medreasoner.eval.report.write_report` (``medreasoner report``) and
:func:`medreasoner.eval.server.serve` (``medreasoner serve``).
"""
