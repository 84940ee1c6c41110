"""Plan items x variants x repeats, execute them against a provider, append records."""

from tailgate.runner._execute import (
    ExecutionStats,
    NullProgress,
    ProgressSink,
    RateLimiter,
    backoff_delay,
    execute,
)
from tailgate.runner._judge_attack import attack_run_id, write_attack_suite
from tailgate.runner._manifest import suite_mismatches
from tailgate.runner._plan import Plan, Sample, build_plan, variants_of
from tailgate.runner._redteam import JUDGE_RUBRIC, redteam_run_id, write_redteam_suite
from tailgate.runner._rejudge import judge_stored_run
from tailgate.runner._rescore import DEFAULT_EXTRACTORS, Rescored, default_extractors, rescore
from tailgate.runner._run import RunOptions, RunResult, run, run_sync
from tailgate.runner._schedule import Look, LookOutcome, Schedule

__all__ = [
    "DEFAULT_EXTRACTORS",
    "JUDGE_RUBRIC",
    "ExecutionStats",
    "Look",
    "LookOutcome",
    "NullProgress",
    "Plan",
    "ProgressSink",
    "RateLimiter",
    "Rescored",
    "RunOptions",
    "RunResult",
    "Sample",
    "Schedule",
    "attack_run_id",
    "backoff_delay",
    "build_plan",
    "default_extractors",
    "execute",
    "judge_stored_run",
    "redteam_run_id",
    "rescore",
    "run",
    "run_sync",
    "suite_mismatches",
    "variants_of",
    "write_attack_suite",
    "write_redteam_suite",
]
