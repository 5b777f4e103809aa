"""Where a scheduler's commands run: on this machine, or on a login node through the user's ssh.

`ssh` uses the user's ssh config, keys and agent; orbitfarm never stores or asks for a password
(BatchMode=yes makes ssh fail instead of prompting). Every argument that reaches the remote shell
is quoted with shlex (shell_line). Shared by every target that drives command-line tools.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .base import TargetError

DEFAULT_TIMEOUT = 120.0


def shell_line(argv: list[str], cwd: str | None = None) -> str:
    """argv as one shell-safe line (every word quoted), run in `cwd` when given."""
    command = shlex.join(argv)
    return f"cd {shlex.quote(cwd)} && {command}" if cwd else command


@dataclass
class Result:
    """Output of one command."""

    returncode: int
    stdout: str
    stderr: str


@dataclass
class Shell:
    """Runs commands on this machine. Counts calls per program (the benchmark reads them)."""

    calls: Counter[str] = field(default_factory=Counter)
    timeout: float = DEFAULT_TIMEOUT

    def describe(self) -> str:
        return "this machine"

    def run(self, argv: list[str], cwd: str | None = None, stdin: str | None = None) -> Result:
        """Run argv (no shell); a missing program or a hang becomes a TargetError."""
        self.calls[os.path.basename(argv[0])] += 1
        try:
            proc = subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, text=True,
                                  timeout=self.timeout, errors="replace")
        except FileNotFoundError:
            raise TargetError(
                f"`{argv[0]}` not found on {self.describe()}: is this a SLURM login node? "
                "Otherwise set `ssh: LOGIN_HOST` in the target profile"
            ) from None
        except subprocess.TimeoutExpired:
            raise TargetError(f"`{argv[0]}` did not answer within {self.timeout:.0f} s on "
                              f"{self.describe()}; is the cluster up?") from None
        return Result(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class SshShell(Shell):
    """Runs commands on a login node: `ssh HOST -- 'cd DIR && ARGV...'`, everything quoted."""

    host: str = ""
    ssh: list[str] = field(default_factory=lambda: ["ssh"])

    def describe(self) -> str:
        return f"{self.host} (ssh)"

    def ssh_argv(self, argv: list[str], cwd: str | None = None) -> list[str]:
        """The local ssh argv whose remote shell runs argv in cwd (pure; tested as text)."""
        command = shell_line(argv, cwd)
        # BatchMode: fail rather than prompt for a password; the user's keys/agent do the work.
        return [*self.ssh, "-o", "BatchMode=yes", "--", self.host, command]

    def run(self, argv: list[str], cwd: str | None = None, stdin: str | None = None) -> Result:
        self.calls[os.path.basename(argv[0])] += 1
        try:
            proc = subprocess.run(self.ssh_argv(argv, cwd), input=stdin, capture_output=True,
                                  text=True, timeout=self.timeout, errors="replace")
        except FileNotFoundError:
            raise TargetError("`ssh` not found on this machine; install OpenSSH client") from None
        except subprocess.TimeoutExpired:
            raise TargetError(f"ssh {self.host} did not answer within {self.timeout:.0f} s") from None
        if proc.returncode == 255:
            raise TargetError(f"cannot reach {self.host} with ssh ({proc.stderr.strip()[-200:]}); "
                              f"check `ssh {self.host}` works without a password prompt")
        return Result(proc.returncode, proc.stdout, proc.stderr)


def make_shell(profile: dict[str, Any]) -> Shell:
    """The shell a profile asks for: `ssh: HOST` (optionally `ssh_options: [...]`) or local."""
    host = profile.get("ssh")
    if not host:
        return Shell()
    if not isinstance(host, str) or host.startswith("-") or any(c.isspace() for c in host):
        raise TargetError(f"ssh must be a host name or user@host from your ssh config, got {host!r}")
    options = profile.get("ssh_options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise TargetError("ssh_options must be a list of ssh arguments, e.g. ['-p', '2222']")
    return SshShell(host=host, ssh=["ssh", *options])
