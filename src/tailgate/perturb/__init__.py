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
from tailgate.perturb._pyrit import PYRIT_CATEGORIES, PYRIT_DATASETS, pyrit_category, pyrit_templates
from tailgate.perturb._redteam import (
    ATTACK_CATEGORIES,
    GARAK_CATEGORY,
    GLOSSARY,
    MUTATORS,
    AttackTemplate,
    Turns,
    attack_templates,
    canary_for,
    garak_templates,
    leetspeak,
    mutate,
    translate,
)

__all__ = [
    "ATTACK_CATEGORIES",
    "GARAK_CATEGORY",
    "GLOSSARY",
    "MUTATORS",
    "PYRIT_CATEGORIES",
    "PYRIT_DATASETS",
    "AttackTemplate",
    "BasePerturbation",
    "BoundPerturbation",
    "ModelParams",
    "ModelPerturbation",
    "PerturbParams",
    "Perturbation",
    "Turns",
    "Variants",
    "attack_templates",
    "build_variants",
    "canary_for",
    "garak_templates",
    "item_rng",
    "leetspeak",
    "mutate",
    "pyrit_category",
    "pyrit_templates",
    "translate",
]
