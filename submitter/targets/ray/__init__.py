"""The `ray` target: tasks as Ray tasks on a Ray cluster, driven through its Jobs API."""
