"""docs/api-reference.md, generated: every endpoint of the OpenAPI document with its parameters, auth, an example
request and the answer a real server gave over a small real event log.

``render`` writes the Markdown from the document and the recorded examples (a pure function); ``record`` makes the
log (the seeded simulation traded on paper, so the same answers every time), serves it with the real app and
records its answers. ``python -m b1e55ed.apidocs [PATH]`` rewrites the file (default: docs/api-reference.md);
``tests/integration/test_api_reference.py`` regenerates it and fails when the file differs.
"""
