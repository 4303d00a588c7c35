""".ci/setup on a machine that lacks a prerequisite: one line naming it and the command that installs it."""

import os
import subprocess

from .conftest import ROOT


def setup(tmp_path, **env) -> subprocess.CompletedProcess:
    """.ci/setup with its own (empty) wheel cache and venv, so it would have to build llama-cpp-python."""
    base = {"EDGECLEAN_CACHE": str(tmp_path / "cache"), "EDGECLEAN_VENV": str(tmp_path / "venv")}
    return subprocess.run(
        ["bash", str(ROOT / ".ci" / "setup"), "--no-dev"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **base, **env},
    )


def assert_one_line(result, *fragments):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(fragment in lines[0] for fragment in fragments), result.stderr


def test_a_missing_python_is_named(tmp_path):
    assert_one_line(setup(tmp_path, PYTHON="python-that-is-not-there"), "apt-get install -y python3 python3-venv")


def test_a_python_without_venv_support_is_named(tmp_path):
    no_ensurepip = tmp_path / "python3"
    no_ensurepip.write_text('#!/bin/sh\ncase "$*" in *ensurepip*) exit 1;; esac\nexec python3 "$@"\n')
    no_ensurepip.chmod(0o755)
    assert_one_line(setup(tmp_path, PYTHON=str(no_ensurepip)), "no ensurepip", "apt-get install -y python3-venv")


def test_missing_compilers_are_named_before_any_build(tmp_path):
    result = setup(tmp_path, CC="/nonexistent/cc", CXX="/nonexistent/c++")
    assert_one_line(result, "a C compiler", "a C++ compiler", "apt-get install -y gcc libc6-dev g++")
    assert "building" not in result.stdout and not list((tmp_path / "cache").glob("wheels/*"))
