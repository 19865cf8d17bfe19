"""medreasoner: build and evaluate medical reasoning LLMs (WiNGPT-3.0 and Preferred-MedLLM pipelines on TRL)."""

__version__ = "0.1.0"
