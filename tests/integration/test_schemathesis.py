"""schemathesis (its CLI, in a child process) against the live server's ``/openapi.json``: generated requests,
valid and invalid, must never get a 5xx, and every response must match the schema: status, content type,
headers and body. ``/stream`` is left out: it never ends."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio

from tests.integration.api_support import TOKEN, api_config, served

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Stateful resource checks need create/delete operations; this API has none.
NOT_APPLICABLE = "use_after_free,ensure_resource_availability,object_level_authorization"


@pytest.mark.slow
async def test_generated_requests_find_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(token=TOKEN)) as server:
        command = [
            str(SCHEMATHESIS),
            "run",
            f"{server.url}/openapi.json",
            "--checks=all",
            f"--exclude-checks={NOT_APPLICABLE}",
            "--exclude-path=/stream",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--max-examples=20",
            "--seed=1",
            "--workers=1",
            "--no-shrink",
            "--request-timeout=10",
        ]
        with trio.fail_after(120):
            result = await trio.run_process(command, check=False, capture_stdout=True, capture_stderr=True)
    output = result.stdout.decode(errors="replace")
    assert result.returncode == 0, output[-6000:] + result.stderr.decode(errors="replace")[-2000:]
    assert "No issues found" in output
