"""The SLURM target: sbatch job arrays (target.py), the pure sbatch script builder (script.py),
squeue/sacct/scancel (commands.py), slurmrestd (rest.py), time and memory units (units.py)."""
