"""Helpers shared by the benchmarks (processes, ports, a throwaway PKI, load-generator output)."""
