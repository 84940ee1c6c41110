"""Suite configuration: validated YAML with line-aware errors."""

from tailgate.config._suite import (
    DatasetConfig,
    DecodingConfig,
    LoadedSuite,
    Message,
    ModelConfig,
    ReportConfig,
    RetryConfig,
    RunConfig,
    ScorerConfig,
    SuiteConfig,
    TemplateConfig,
    VariantConfig,
    bundled_suites,
    check_base_url,
    load_suite,
)
from tailgate.config._yaml import SourceMap, file_problem, load_yaml

__all__ = [
    "DatasetConfig",
    "DecodingConfig",
    "LoadedSuite",
    "Message",
    "ModelConfig",
    "ReportConfig",
    "RetryConfig",
    "RunConfig",
    "ScorerConfig",
    "SourceMap",
    "SuiteConfig",
    "TemplateConfig",
    "VariantConfig",
    "bundled_suites",
    "check_base_url",
    "file_problem",
    "load_suite",
    "load_yaml",
]
