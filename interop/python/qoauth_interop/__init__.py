"""Helpers shared by the Python interop tests: where the reference runs, how to play the
browser through its test IdP, and raw probes that tell whether a token is alive."""
