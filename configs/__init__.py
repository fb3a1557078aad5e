"""Experiment configs (YAML), shipped inside the package as mcdenoise.configs."""
