import os

from edgeclean.model.hardware import cgroup_cpu_quota, usable_cpus


def test_cgroup_v2_quota_rounds_up(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 2


def test_cgroup_v2_unlimited(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) == 1


def test_quota_lowers_the_affinity_count(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    affinity = len(os.sched_getaffinity(0))
    count, why = usable_cpus(tmp_path)
    assert count == 1 if affinity > 1 else count == affinity
    assert "CPU" in why


def test_affinity_is_used_not_the_host_core_count(tmp_path):
    original = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {sorted(original)[0]})
        assert usable_cpus(tmp_path) == (1, "1 CPUs in this process's affinity mask")
    finally:
        os.sched_setaffinity(0, original)


def test_the_openmp_spin_default_applies_only_where_the_user_chose_nothing():
    from edgeclean.model.hardware import OPENMP_SPIN_COUNT, apply_openmp_wait

    environ: dict = {}
    assert "edgeclean's default" in apply_openmp_wait(environ)
    assert environ == {"GOMP_SPINCOUNT": OPENMP_SPIN_COUNT}
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert apply_openmp_wait(chosen) == "OMP_WAIT_POLICY=ACTIVE (set in the environment)"
    assert chosen == {"OMP_WAIT_POLICY": "ACTIVE"}, "the user's choice stands alone"


def test_doctor_says_which_openmp_wait_is_in_force():
    import subprocess
    import sys

    # Not run_cli: it passes this process's environment, where loading llama.cpp already set the default.
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}

    def doctor(extra: dict) -> str:
        command = [sys.executable, "-m", "edgeclean", "doctor"]
        return subprocess.run(command, capture_output=True, text=True, env=env | extra, timeout=120).stdout

    assert "openmp wait      GOMP_SPINCOUNT=1000 (edgeclean's default" in doctor({})
    assert "openmp wait      OMP_WAIT_POLICY=PASSIVE (set in the environment)" in doctor({"OMP_WAIT_POLICY": "PASSIVE"})
