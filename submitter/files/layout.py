"""The one owner of every file and folder name in a job directory and in a subject's outputs.

Job directory (JOBDIR = OUT/.orbitfarm/jobs/<id>/ by default):
    job.yaml            versioned job spec (what was asked for)
    plan.json           tasks (what each worker renders); paths inside JOBDIR are relative
    code/orbitfarm/     the orbitfarm code that submitted; nodes run exactly this version
    inputs/             packaged .blend files and their dependencies (content-addressed)
    tasks/<task>.json   per-task state, written atomically by workers and the submitter
    tasks/markers/      empty files named <task>.<state>.<attempt> (see files/taskstate.py)
    tasks/.lock         flock held while a state file is compared with and replaced
    job.lock            flock held by the one command changing task states (retry, cancel)
    logs/<task>.log     per-task worker logs
    target.json         what the target recorded about its submission(s)
    preflight.json      the preflight report accepted at submit time; pack.json what packing did
    cache/              status cache of final task states (safe to delete)
    local/, slurm/      target-specific bookkeeping (runs, pids, exit codes, scripts)
    ray/, kubernetes/   the same for Ray (driver specs, task ids) and Kubernetes (manifests)
    pai-dlc/, ngc/, batchcompute/  the cloud targets' request payloads (also what --dry-run
                        writes) and the service's own logs
    plan.cluster.json   the plan with paths as cluster nodes see them (targets with path_map)
    notified/           markers of notifications already sent
    notify.secret       a literal --notify URL, readable by its owner only (jobs/secrets.py)
    report.html         the job's web page (submitter/report/), static; report/ holds its images

A subject's outputs (OUT/<name>/): rgb/NNNN.png, depth/NNNN.exr, transforms.json, result.json
(NNNN = the 1-based orbit frame, at least 4 digits); the dataset formats (submitter/formats/):
depth16/NNNN.png, transforms_train.json + transforms_test.json, opencv_cameras.json,
colmap/sparse/0/{cameras,images,points3D}.txt; the passes' folders (model/looks.py
PASS_OUTPUTS: mask/, normal_world/, normal_camera/, albedo/) and turntable.mp4|gif.
Plain Python (runs inside Blender too): names and path arithmetic only, no I/O.
"""

from __future__ import annotations

from pathlib import Path

# -- the job directory -------------------------------------------------------------------------
JOBS_FOLDER = (".orbitfarm", "jobs")  # OUT/.orbitfarm/jobs/<id>/
JOB_FILE = "job.yaml"
PLAN_FILE = "plan.json"
TARGET_FILE = "target.json"
PREFLIGHT_FILE = "preflight.json"
PACK_FILE = "pack.json"
CODE_DIR = ("code", "orbitfarm")
INPUTS_DIR = "inputs"
PACKED_SUBJECTS = "inputs/subjects"  # packed subjects: inputs/subjects/<name>/<file>.blend
STATE_DIR = "tasks"
MARKER_DIR = "markers"  # inside STATE_DIR
STATE_LOCK = ".lock"  # inside STATE_DIR: held while a state file is compared and replaced
JOB_LOCK = "job.lock"  # held by the one command changing task states (retry, reconcile, cancel)
LOG_DIR = "logs"
CACHE_DIR = "cache"
NOTIFIED_DIR = "notified"
NOTIFY_LOG = "notify.log"
NOTIFY_SECRET = "notify.secret"  # a literal --notify URL, private to its owner (0600)
LOCAL_DIR = "local"  # the local target's bookkeeping
SLURM_DIR = "slurm"  # the SLURM target's scripts and SLURM's own output files
SGE_DIR = "sge"  # the Grid Engine target's scripts and Grid Engine's own output files
HTCONDOR_DIR = "htcondor"  # the HTCondor target's task script, submit files, HTCondor's output
RAY_DIR = "ray"  # the Ray target's submissions, task ids, results and cancel requests
KUBERNETES_DIR = "kubernetes"  # the Kubernetes target's manifests (also what --dry-run writes)
COMMAND_DIR = "command"  # the command target: task scripts, submitted ids, status/cancel output
DEADLINE_DIR = "deadline-cloud"  # the Deadline Cloud target: the OpenJD job bundle, job ids
ACCSYN_DIR = "accsyn"  # the accsyn target: the compute job payloads and ids
CLUSTER_PLAN = "plan.cluster.json"  # the plan with paths as cluster nodes see them (path_map)
PAI_DLC_DIR = "pai-dlc"  # the PAI-DLC target's CreateJob payloads and pod logs
NGC_DIR = "ngc"  # the NGC target's batch run requests and job logs
BATCHCOMPUTE_DIR = "batchcompute"  # the BatchCompute target's job descriptions, instance logs
DRY_RUN_DIR = "dry-run"  # what `submit --dry-run` would have submitted, for kinds without a folder
REPORT_FILE = "report.html"  # the job's web page
REPORT_DIR = "report"  # its images (thumbs/) and caches, written once and reused
REPORT_THUMBS = "thumbs"  # inside REPORT_DIR: one strip (RGB over depth) per subject

# -- a subject's outputs -----------------------------------------------------------------------
RGB_DIR = "rgb"
DEPTH_DIR = "depth"
TRANSFORMS_FILE = "transforms.json"
RESULT_FILE = "result.json"
RESULT_LOCK = ".result.lock"
DEPTH16_DIR = "depth16"
TRANSFORMS_TRAIN_FILE = "transforms_train.json"
TRANSFORMS_TEST_FILE = "transforms_test.json"
OPENCV_CAMERAS_FILE = "opencv_cameras.json"
COLMAP_SPARSE_DIR = ("colmap", "sparse", "0")


def state_file(job_path: str | Path, task_id: str) -> Path:
    return Path(job_path) / STATE_DIR / f"{task_id}.json"


def log_file(job_path: str | Path, task_id: str) -> Path:
    return Path(job_path) / LOG_DIR / f"{task_id}.log"


def code_dir(job_path: str | Path) -> Path:
    return Path(job_path).joinpath(*CODE_DIR)


def frame_name(frame: int) -> str:
    return f"{frame:04d}"


def rgb_path(out: str | Path, frame: int) -> Path:
    return Path(out) / RGB_DIR / f"{frame_name(frame)}.png"


def depth_path(out: str | Path, frame: int) -> Path:
    return Path(out) / DEPTH_DIR / f"{frame_name(frame)}.exr"
