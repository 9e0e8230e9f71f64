"""schemathesis (its CLI, in a child process) against the live server's ``/openapi.json``: generated requests,
valid and invalid, with the token and without it, must never get a 5xx, and every response must match the
schema: status, content type, headers and body. ``/stream`` is left out: it never ends."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import trio

from tests.integration.api_support import TOKEN, api_config, served

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Stateful resource checks need create/delete operations; this API has none.
NOT_APPLICABLE = "use_after_free,ensure_resource_availability,object_level_authorization"


@pytest.mark.slow
@pytest.mark.parametrize("with_token", [True, False], ids=["with the token", "without it"])
async def test_generated_requests_find_no_server_error_and_no_schema_violation(
    tmp_path: Path, with_token: bool
) -> None:
    async with served(tmp_path, api_config(token=TOKEN)) as server:
        schema = tmp_path / "openapi.json"  # the document itself is behind the token
        async with server.client() as client:
            schema.write_bytes((await client.get("/openapi.json")).content)
        command = [
            str(SCHEMATHESIS),
            "run",
            str(schema),
            f"--url={server.url}",
            "--checks=all",
            f"--exclude-checks={NOT_APPLICABLE}",
            "--exclude-path=/stream",
            *(["--header", f"Authorization: Bearer {TOKEN}"] if with_token else []),
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
    if with_token:
        assert "No issues found" in output
    else:  # every secured operation refused the stranger, and nothing else went wrong
        assert "Authentication failed" in output
        assert re.search(r"(\d+) generated, \1 passed", output), output[-3000:]
