"""The HTCondor target: clusters of procs through the htcondor2 bindings (target.py), the pure
submit description and task script builder (submit.py)."""
