"""HTCondor target: submit description builder and the target (htcondor2 bindings)."""
