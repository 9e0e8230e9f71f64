"""Reddit's public JSON listings: the newest posts of a subreddit, paged back to a point in time. No key needed.

``GET https://www.reddit.com/r/{sub}/new.json?limit=100`` answers a Listing: ``{"kind": "Listing", "data":
{"children": [{"kind": "t3", "data": {"id", "name", "title", "selftext", "created_utc", ...}}], "after":
"t3_…", "before": null, "dist": …}}``, newest first; ``after=<data.after>`` asks for the next (older) page, and
``after: null`` means the listing has no more (Reddit keeps about 1,000 items per listing). Reddit wants a
unique, descriptive ``User-Agent`` (generic ones are throttled hard) and reports its budget in
``X-Ratelimit-Remaining`` / ``X-Ratelimit-Reset`` (seconds); the client waits out an exhausted budget before its
next request, and ``JsonApi`` retries a 429 after ``Retry-After``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import httpx
import msgspec
import trio

from b1e55ed.sources import RETRY_AFTER_CAP_S, JsonApi, Post, SourceError

REDDIT_URL: Final = "https://www.reddit.com"
DEFAULT_USER_AGENT: Final = "python:b1e55ed:0.1 (social buzz producer; github.com/b1e55ed)"
PAGE_LIMIT: Final = 100  # the most a listing request may ask for
SUBREDDIT_NAME: Final = re.compile(r"[A-Za-z0-9_]{2,21}")
_ENDPOINT: Final = "GET /r/{subreddit}/new.json"


class _PostData(msgspec.Struct, frozen=True):
    id: str
    created_utc: float
    name: str = ""
    title: str = ""
    selftext: str = ""


class _Child(msgspec.Struct, frozen=True):
    kind: str
    data: _PostData


class _ListingData(msgspec.Struct, frozen=True):
    children: list[_Child]
    after: str | None = None


class _Listing(msgspec.Struct, frozen=True):
    kind: str
    data: _ListingData


_LISTING_DECODER: Final = msgspec.json.Decoder(_Listing)


@dataclass(frozen=True)
class ListingPage:
    posts: list[Post]  # newest first
    after: str | None  # the cursor of the next, older page; None at the end of the listing


@dataclass(frozen=True)
class RedditFetch:
    """The posts created at or after ``since_ms`` that the pages reached, and from when that is complete.

    ``covered_from_ms`` is ``since_ms`` when the pages went back that far (or the listing ended); when ``max_pages``
    stopped the paging first, it is the oldest post seen: before it, posts may be missing.
    """

    posts: list[Post]
    covered_from_ms: int
    pages: int


class RedditClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = REDDIT_URL,
        user_agent: str = DEFAULT_USER_AGENT,
        page_limit: int = PAGE_LIMIT,
        max_retries: int = 3,
        backoff_initial_s: float = 2.0,
    ) -> None:
        if not 1 <= page_limit <= PAGE_LIMIT:
            raise ValueError(f"page_limit must be within 1..{PAGE_LIMIT}, got {page_limit}")
        self._api = JsonApi(
            http,
            base_url,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            max_retries=max_retries,
            backoff_initial_s=backoff_initial_s,
            observe=self._observe,
        )
        self._page_limit = page_limit
        self._resume_at = 0.0  # trio time before which the rate-limit budget is spent

    async def new_page(self, subreddit: str, *, after: str | None = None) -> ListingPage:
        if not SUBREDDIT_NAME.fullmatch(subreddit):
            raise ValueError(f"not a subreddit name: {subreddit!r}")
        wait = self._resume_at - trio.current_time()
        if wait > 0:
            await trio.sleep(wait)
        params: dict[str, str | int] = {"limit": self._page_limit, "raw_json": 1}
        if after:
            params["after"] = after
        listing = await self._api.request("GET", f"/r/{subreddit}/new.json", _ENDPOINT, _LISTING_DECODER, params=params)
        if listing.kind != "Listing":
            raise SourceError(_ENDPOINT, f"expected a Listing, got kind {listing.kind!r}")
        posts = [
            Post("reddit", child.data.name or child.data.id, _text(child.data), round(child.data.created_utc * 1000))
            for child in listing.data.children
            if child.kind == "t3"
        ]
        return ListingPage(posts, listing.data.after or None)

    async def new_since(self, subreddit: str, since_ms: int, *, max_pages: int = 5) -> RedditFetch:
        """Page back through ``/new`` until a post older than ``since_ms``, the end, or ``max_pages`` pages."""
        posts: list[Post] = []
        after: str | None = None
        oldest = None
        for pages in range(1, max_pages + 1):
            page = await self.new_page(subreddit, after=after)
            posts.extend(post for post in page.posts if post.ts_ms >= since_ms)
            if page.posts:
                oldest = min([post.ts_ms for post in page.posts] + ([oldest] if oldest is not None else []))
            if page.after is None or (oldest is not None and oldest < since_ms):
                return RedditFetch(posts, since_ms, pages)
            after = page.after
        return RedditFetch(posts, max(since_ms, oldest if oldest is not None else since_ms), max_pages)

    def _observe(self, headers: httpx.Headers) -> None:
        try:
            remaining = float(headers.get("X-Ratelimit-Remaining", "nan"))
            reset = float(headers.get("X-Ratelimit-Reset", "nan"))
        except ValueError:
            return
        if remaining < 1 and reset >= 0:  # comparisons with nan are False: absent headers change nothing
            self._resume_at = trio.current_time() + min(reset, RETRY_AFTER_CAP_S)


def _text(data: _PostData) -> str:
    return f"{data.title}\n{data.selftext}" if data.selftext else data.title
