"""requirements.txt (pip) and environment.yml (conda) must pin the same packages."""

from __future__ import annotations

import re

import yaml


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if match := re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line):
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_environment_yml_mirrors_requirements(project_root):
    requirements = pins((project_root / "requirements.txt").read_text().splitlines())
    environment = yaml.safe_load((project_root / "environment.yml").read_text())
    pip_section = next(item for item in environment["dependencies"] if isinstance(item, dict))
    assert pins(pip_section["pip"]) == requirements


def test_every_requirement_is_pinned_exactly(project_root):
    for path in ("requirements.txt", "requirements-nodeps.txt"):
        for line in (project_root / path).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            assert not line or re.fullmatch(r"[A-Za-z0-9_.\-]+==\S+", line), f"{path}: {line!r}"


def test_torch_is_pinned_to_the_cpu_build(project_root):
    assert pins((project_root / "requirements.txt").read_text().splitlines())["torch"] == "2.13.0"


def test_environment_yml_names_the_no_deps_file(project_root):
    assert "requirements-nodeps.txt" in (project_root / "environment.yml").read_text()
    python = yaml.safe_load((project_root / "environment.yml").read_text())["dependencies"][0]
    assert python.startswith("python=3.11")
