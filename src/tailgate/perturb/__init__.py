"""Variants of items and prompts: perturbations, paraphrases and prompt formats.

Deterministic under a seed, registered like scorers (entry-point group ``tailgate.perturbations``),
recorded in the run's manifest with their parameters.
"""

from tailgate.perturb._base import (
    BasePerturbation,
    BoundPerturbation,
    ModelParams,
    ModelPerturbation,
    Perturbation,
    PerturbParams,
    Variants,
    build_variants,
    item_rng,
)

__all__ = [
    "BasePerturbation",
    "BoundPerturbation",
    "ModelParams",
    "ModelPerturbation",
    "PerturbParams",
    "Perturbation",
    "Variants",
    "build_variants",
    "item_rng",
]
