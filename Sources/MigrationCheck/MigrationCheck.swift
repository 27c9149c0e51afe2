// CPU models, baselines and migration checks.
