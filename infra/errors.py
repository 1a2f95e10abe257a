"""Errors the program reports to people.

Both derive from :class:`pulumi.RunError`, which the Pulumi CLI prints as a message without a Python
traceback: a bad config value or a refused flip is the user's to fix, not a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid stack config value: the key path (``workerPools[1].replicas``) and what is wrong."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class ConfigError(pulumi.RunError):
    """The stack configuration is invalid; :attr:`problems` lists every problem, not only the first."""

    def __init__(self, problems: list[ConfigProblem], stack: str) -> None:
        self.problems = list(problems)
        self.stack = stack
        count = len(self.problems)
        lines = [
            f"invalid configuration for stack {stack!r} ({count} problem{'s' if count != 1 else ''}):",
            *(f"  - {problem}" for problem in self.problems),
            f"Fix each key in Pulumi.{stack}.yaml (keys live under 'pipeline-platform:'), or with "
            "`pulumi config set --path '<key>' <value>` (add --secret for secrets). "
            "docs/configuration.md lists every key.",
        ]
        super().__init__("\n".join(lines))


class LiveColorError(pulumi.RunError):
    """The program could not learn which colour is live, so it cannot tell whether this update is a flip."""
