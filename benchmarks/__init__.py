"""The benchmark scripts (see benchmarks/README.md); a package so that ``benchmarks.common`` and ``benchmarks.baselines`` import from the checkout."""
