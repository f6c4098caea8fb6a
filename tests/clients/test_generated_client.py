"""A Python client generated from the running service's `/openapi.json` by `openapi-python-client`,
as a REST user would make one, driving the real service (`python main.py` on a free port).

The client is generated into this test's temporary folder at test time (never committed), and the
generator must print no warning: a warning means part of the API went missing from the client. Every
answer the test meets must come back as a typed model, problems included (404, 409, 422).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import re
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from shared.db import CATALOG_COLLECTION
from tests.processes import ServiceProcess, service_env
from tests.support import ALL_FORMATS, FINISHED, work_order
from tools.demo_asset import load_demo_asset_sync

PACKAGE = "ai_spark_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# The generator reads only JSON, bytes, text and multipart bodies; a zip is bytes to it.
CONFIG = "content_type_overrides:\n  application/zip: application/octet-stream\npost_hooks: []\n"
EXAMPLE_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


@pytest.fixture
def service(settings: Any, tmp_path: Path) -> Iterator[ServiceProcess]:
    with MongoClient(settings.mongodb_url) as mongo:
        load_demo_asset_sync(mongo[settings.fabric_catalog_db][CATALOG_COLLECTION])
    process = ServiceProcess(service_env(settings), tmp_path / "service.log").start()
    yield process
    process.stop()


@pytest.fixture
def generated(service: ServiceProcess, tmp_path: Path) -> Iterator[ModuleType]:
    schema_path = tmp_path / "openapi.json"
    schema_path.write_text(json.dumps(service.get("/openapi.json").json()), encoding="utf-8")
    config = tmp_path / "generator.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    output = tmp_path / "client" / PACKAGE
    command = [str(GENERATOR), "generate", "--path", str(schema_path), "--output-path", str(output)]
    finished = subprocess.run(
        [*command, "--meta", "none", "--config", str(config)], capture_output=True, text=True, timeout=300, check=False
    )
    said = finished.stdout + finished.stderr
    assert finished.returncode == 0, said
    assert "warning" not in said.lower(), said
    sys.path.insert(0, str(output.parent))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(output.parent))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def operation(tag: str, operation_id: str) -> ModuleType:
    return module(f"api.{tag}.{operation_id}")


def wait_for_export(client: Any, spark_id: uuid.UUID, within: float = 120.0) -> Any:
    get_status = operation("exports", "get_export_status_spark_spark_id_status_get")
    status_model = module("models").ExportStatus
    deadline = time.monotonic() + within
    while True:
        status = get_status.sync(spark_id, client=client)
        assert isinstance(status, status_model), status
        if status.status.value in FINISHED or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_a_generated_client_types_every_answer(generated: ModuleType, service: ServiceProcess) -> None:
    models = module("models")
    client = generated.Client(base_url=service.url, raise_on_unexpected_status=True, timeout=httpx.Timeout(30))

    # create an export and poll its status to completed
    order = work_order(ALL_FORMATS, user_inputs={"prompt": "Find the strongest answers.", "llm_instructions": True})
    create = operation("exports", "create_export_spark_post")
    created = create.sync_detailed(client=client, body=models.CreateExportRequest.from_dict(order))
    assert created.status_code == 202 and isinstance(created.parsed, models.ExportAccepted)
    spark_id = uuid.UUID(created.parsed.spark_id)
    assert wait_for_export(client, spark_id).status == models.JobStatus.COMPLETED

    # the job, with its typed work order, manifest and package
    job = operation("exports", "get_export_spark_spark_id_get").sync(spark_id, client=client)
    assert isinstance(job, models.ExportJobView)
    assert isinstance(job.work_order, models.CreateExportRequest) and job.work_order.repo_guid == "demo-repo"
    manifest = job.manifest
    assert isinstance(manifest, models.ExportManifest) and isinstance(manifest.counts, models.ManifestCounts)
    assert {artifact.format_ for artifact in manifest.artifacts} >= set(ALL_FORMATS) - {"xmeml", "avid"}
    assert all(isinstance(artifact, models.ManifestArtifact) for artifact in manifest.artifacts)
    assert isinstance(job.package, models.ExportPackage)
    assert all(isinstance(run, models.ExportRun) for run in job.runs)

    # an artifact and the package, as bytes
    download = operation("exports", "download_artifact_spark_spark_id_artifacts_path_get")
    xlsx = next(artifact for artifact in manifest.artifacts if artifact.format_ == "xlsx")
    file = download.sync(spark_id, xlsx.path, client=client)
    assert isinstance(file, generated.types.File)
    assert hashlib.sha256(file.payload.read()).hexdigest() == xlsx.sha256
    package = operation("exports", "download_package_spark_spark_id_package_get").sync(spark_id, client=client)
    assert isinstance(package, generated.types.File)
    with zipfile.ZipFile(io.BytesIO(package.payload.read())) as archive:
        assert set(archive.namelist()) >= {artifact.path for artifact in manifest.artifacts}
        instructions = archive.read("sdna_ai_spark_llm_instructions.md").decode("utf-8")

    # the list
    listed = operation("exports", "list_exports_spark_get").sync(client=client, repo_guid="demo-repo")
    assert isinstance(listed, models.ExportList) and [item.spark_id for item in listed.jobs] == [str(spark_id)]

    # an import of the package's own example, and its status
    example = json.loads(EXAMPLE_BLOCK.search(instructions).group(1))
    create_import = operation("imports", "create_import_spark_import_post")
    accepted = create_import.sync_detailed(client=client, body=models.CreateImportRequest.from_dict(example))
    assert accepted.status_code == 202 and isinstance(accepted.parsed, models.ImportAccepted)
    import_status = operation("imports", "get_import_status_spark_import_import_id_status_get").sync(
        uuid.UUID(accepted.parsed.import_id), client=client
    )
    assert isinstance(import_status, models.ImportStatus) and import_status.import_id == accepted.parsed.import_id

    check_typed_problems(client, models, spark_id, order)


def check_typed_problems(client: Any, models: ModuleType, spark_id: uuid.UUID, order: dict[str, Any]) -> None:
    """404, 409 and 422 arrive as `ProblemDetails`, with the status and the pointers of the body."""
    missing = operation("exports", "get_export_spark_spark_id_get").sync_detailed(uuid.uuid4(), client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.ProblemDetails)
    assert missing.parsed.status == 404 and "urn:ai-spark:problem:" in missing.parsed.type_

    finished = operation("exports", "cancel_export_spark_spark_id_cancel_post").sync_detailed(spark_id, client=client)
    assert finished.status_code == 409 and isinstance(finished.parsed, models.ProblemDetails)
    assert finished.parsed.status == 409 and finished.parsed.detail

    twice = {**order, "outputs": {"events": {"formats": ["json", "json"]}}}
    create = operation("exports", "create_export_spark_post")
    invalid = create.sync_detailed(client=client, body=models.CreateExportRequest.from_dict(twice))
    assert invalid.status_code == 422 and isinstance(invalid.parsed, models.ProblemDetails)
    assert [error.pointer for error in invalid.parsed.errors] == ["/outputs/events/formats/1"]
    assert all(isinstance(error, models.ProblemError) for error in invalid.parsed.errors)
