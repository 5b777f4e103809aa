"""The `kubernetes` target: Indexed Jobs (or one pod per task) on a Kubernetes cluster."""
