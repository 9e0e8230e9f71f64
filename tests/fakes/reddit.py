"""A fake Reddit, for ``httpx.MockTransport``: ``/r/{sub}/new.json`` listings paged as Reddit pages them.

Posts come from recorded-format listings (``tests/fixtures/reddit_new_*.json``) or are added one by one; each
request answers ``{"kind": "Listing", "data": {"after", "dist", "modhash", "geo_filter", "children", "before"}}``
with the newest ``min(limit, page_size)`` posts after the ``after`` cursor (a post's ``name``), and ``after`` is
the last one's name while older posts remain. A request without a User-Agent, or with httpx's default one, gets
429 as Reddit throttles generic clients. Rate-limit headers count down from ``budget`` when one is set.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import httpx

from tests.fakes.apify import load_fixture


class FakeReddit:
    def __init__(self, *, page_size: int = 100, budget: int | None = None, reset_s: int = 300) -> None:
        self.page_size = page_size
        self.subreddits: dict[str, list[dict[str, Any]]] = {}  # name → children, newest first
        self.requests: list[httpx.Request] = []
        self.budget = budget
        self.reset_s = reset_s
        self._faults: deque[tuple[int, str | None]] = deque()

    def load(self, subreddit: str, fixture: str) -> None:
        self.subreddits[subreddit] = sorted(
            load_fixture(fixture)["data"]["children"], key=lambda c: -float(c["data"]["created_utc"])
        )

    def add_post(self, subreddit: str, post_id: str, title: str, created_utc: float, selftext: str = "") -> None:
        data: dict[str, Any] = {"subreddit": subreddit, "title": title, "selftext": selftext, "id": post_id}
        data.update(name=f"t3_{post_id}")
        data.update(created_utc=created_utc, created=created_utc, score=1, num_comments=0, over_18=False)
        children = self.subreddits.setdefault(subreddit, [])
        children.append({"kind": "t3", "data": data})
        children.sort(key=lambda c: -float(c["data"]["created_utc"]))

    def fail_next(self, status: int, retry_after: str | None = None, times: int = 1) -> None:
        self._faults.extend([(status, retry_after)] * times)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        agent = request.headers.get("User-Agent", "")
        if not agent or agent.startswith("python-httpx"):
            return httpx.Response(429, json={"message": "Too Many Requests", "error": 429})
        if self._faults:
            status, retry_after = self._faults.popleft()
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return httpx.Response(status, json={"message": "fault injected", "error": status}, headers=headers)
        parts = request.url.path.strip("/").split("/")
        if request.method != "GET" or len(parts) != 3 or parts[0] != "r" or parts[2] != "new.json":
            return httpx.Response(404, json={"message": "Not Found", "error": 404})
        children = self.subreddits.get(parts[1])
        if children is None:
            return httpx.Response(404, json={"reason": "banned", "message": "Not Found", "error": 404})
        return httpx.Response(200, json=self._page(children, request.url.params), headers=self._rate_headers())

    def _page(self, children: list[dict[str, Any]], params: httpx.QueryParams) -> dict[str, Any]:
        limit = min(int(params.get("limit", 25)), 100, self.page_size)
        start = 0
        if after := params.get("after"):
            names = [child["data"]["name"] for child in children]
            start = names.index(after) + 1 if after in names else len(children)
        page = children[start : start + limit]
        more = start + limit < len(children)
        data = {"after": page[-1]["data"]["name"] if page and more else None, "dist": len(page), "modhash": ""}
        data.update(geo_filter="", children=page, before=None)
        return {"kind": "Listing", "data": data}

    def _rate_headers(self) -> dict[str, str]:
        if self.budget is None:
            return {}
        self.budget = max(0, self.budget - 1)
        used = str(100 - self.budget)
        return {
            "X-Ratelimit-Used": used,
            "X-Ratelimit-Remaining": f"{self.budget}.0",
            "X-Ratelimit-Reset": str(self.reset_s),
        }
