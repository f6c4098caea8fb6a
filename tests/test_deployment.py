"""What can be checked of the deployment files without a Docker engine (none runs on this machine)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_runs_mongodb_7_as_a_replica_set_and_the_api_from_the_dockerfile() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mongo, api = compose["services"]["mongo"], compose["services"]["api"]

    assert mongo["image"].startswith("mongo:7")
    assert "--replSet" in mongo["command"]
    assert "healthcheck" in mongo and any(volume.startswith("mongo-data:") for volume in mongo["volumes"])
    assert api["build"] == "."
    assert api["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert "replicaSet=" in api["environment"]["MONGODB_URL"]
    assert "/health" in " ".join(api["healthcheck"]["test"])
    assert any(volume.endswith(":/data/exports") for volume in api["volumes"])
    assert set(compose["volumes"]) >= {"mongo-data", "exports"}


def test_compose_mounts_the_media_roots_read_only() -> None:
    api = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["api"]
    roots = re.fullmatch(r"\$\{MEDIA_ROOTS:-(.+)\}", api["environment"]["MEDIA_ROOTS"]).group(1).split(",")
    mounted = {volume.split(":")[-2]: volume.split(":")[-1] for volume in api["volumes"] if volume.count(":") >= 2}

    # Every default root is a folder the container really has, and the service cannot write to it.
    assert roots and all(mounted.get(root) == "ro" for root in roots)


def test_the_image_runs_as_a_non_root_user_without_dev_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert "pip install --no-compile ." in dockerfile and "[dev]" not in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/health" in dockerfile


def test_the_image_and_make_run_start_the_service_the_same_way() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    dev_stack = (ROOT / "tools" / "dev_stack.py").read_text()

    assert 'CMD ["python", "main.py"]' in dockerfile
    assert '"main.py"' in dev_stack
    for copied in ("main.py", "shared", "features"):
        assert re.search(rf"^COPY {copied}\b", dockerfile, re.MULTILINE), copied


def test_env_example_lists_every_setting() -> None:
    from shared.settings import Settings

    listed = set(re.findall(r"^#? ?([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= listed


def test_the_image_builds_its_own_c_speedups() -> None:
    """setup.py's extensions are compiled in a stage with a compiler and copied next to their
    modules; host-built ones never enter the context (another libc, maybe another CPU)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().splitlines()

    assert "python setup.py build_ext --inplace" in dockerfile
    assert re.search(r"^COPY --from=native /built/ \./$", dockerfile, re.MULTILINE)
    assert "**/*.so" in ignored and ".venv" in ignored
