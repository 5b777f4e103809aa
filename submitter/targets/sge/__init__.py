"""The Grid Engine target: qsub array jobs (target.py), the pure qsub script builder with the
GPU device locks (script.py), qsub/qstat/qacct/qdel and their parsers (commands.py)."""
