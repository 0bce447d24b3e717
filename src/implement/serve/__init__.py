"""Serving: the trained world model (vLLM, or in process on a CPU)."""
