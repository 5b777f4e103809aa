"""The local target: worker processes on this machine (target.py), run by a detached runner
(runner.py) that records pids and exit codes under JOBDIR/local/."""
