"""Earlier algorithms kept outside the package as baselines of the benchmarks (each tested in tests/test_baseline_*):

* :mod:`.refine_adam`: the first test-time refinement (Adam on known + DDC, ``refine_steps`` rows of the results);
* :mod:`.ddc_band`: the DDC pairs touching the unknown band;
* :mod:`.refine_ddc`: the band solver with a DDC term added, minimised by IRLS (off in the package: measured, it does
  not improve on the Laplacian + pull of :mod:`afmatting.refine`).
"""
