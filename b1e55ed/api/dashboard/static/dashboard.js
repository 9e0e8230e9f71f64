// The dashboard's own script: a JSON body encoding for htmx, the live-feed indicator, the live mid prices, update
// timings, the clock and the token prompt. No framework; htmx and its SSE extension do the rest.
(function () {
  "use strict";

  const live = (window.b1e55ed = { lastMessage: {}, messages: 0, updates: [], lastSeq: null, priceFrames: 0 });

  // POST /killswitch reads a JSON object, not a form.
  htmx.defineExtension("json-body", {
    onEvent: function (name, evt) {
      if (name === "htmx:configRequest") evt.detail.headers["Content-Type"] = "application/json";
    },
    encodeParameters: function (xhr, parameters) {
      xhr.overrideMimeType("text/json");
      return JSON.stringify(Object.fromEntries(parameters));
    },
  });

  function setFeed(state, text) {
    const feed = document.getElementById("feed");
    if (!feed) return;
    feed.dataset.state = state;
    document.getElementById("feed-label").textContent = text;
    const dot = document.getElementById("feed-dot");
    dot.className = "inline-block h-2 w-2 rounded-full " +
      { live: "bg-crt-green shadow-[0_0_6px_#5cff8a]", lost: "bg-crt-amber", connecting: "bg-shell-400" }[state];
  }

  // As the server's `price` filter writes a price: 97,412.50, 3.4210, 0.0012345.
  function formatPrice(value) {
    const magnitude = Math.abs(value);
    if (magnitude >= 1000) return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    if (magnitude >= 1) return value.toLocaleString("en-US", { minimumFractionDigits: 4, maximumFractionDigits: 4 });
    return String(Number(value.toPrecision(6)));
  }

  // A `price` frame (the price monitor's poll; not a log event, so it has no seq): each symbol's big number
  // becomes its mid, and the line under it says when it was polled and the last close.
  function showMids(mids) {
    const polled = new Date(mids.ts).toISOString().slice(11, 19);
    Object.keys(mids.prices).forEach(function (symbol) {
      const row = document.querySelector('#prices li[data-symbol="' + CSS.escape(symbol) + '"]');
      if (!row) return;
      const mid = mids.prices[symbol];
      const shown = row.querySelector("[data-price]");
      shown.textContent = formatPrice(mid);
      shown.dataset.mid = String(mid);
      const close = row.dataset.close ? " · close " + formatPrice(Number(row.dataset.close)) : "";
      row.querySelector("[data-quote]").textContent = "mid " + polled + close;
    });
    const note = document.getElementById("prices-note");
    if (note) note.textContent = "live mids · last close per cycle";
    live.priceFrames += 1;
  }

  // Wrap the SSE extension's EventSource so every message is seen once, whichever panel it refreshes.
  htmx.createEventSource = function (url) {
    const source = new EventSource(url);
    const types = (new URL(url, window.location.href).searchParams.get("types") || "").split(",");
    source.addEventListener("open", function () { setFeed("live", "live"); });
    source.addEventListener("error", function () { setFeed("lost", "reconnecting"); });
    source.addEventListener("price", function (event) {
      live.lastMessage.price = performance.now();
      showMids(JSON.parse(event.data));
    });
    types.forEach(function (type) {
      if (type === "price") return;
      source.addEventListener(type, function (event) {
        live.lastMessage[type] = performance.now();
        live.messages += 1;
        live.lastSeq = event.lastEventId;
        const last = document.getElementById("feed-last");
        if (last) last.textContent = type + " · seq " + event.lastEventId;
      });
    });
    return source;
  };

  // How long a panel took to show new data: from the SSE message that triggered it to the settled swap.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    evt.detail.elt.dataset.requestedAt = String(performance.now());
  });
  document.addEventListener("htmx:afterSettle", function (evt) {
    const panel = evt.detail.target;
    if (!panel || !panel.dataset.live) return;
    const now = performance.now();
    const heard = panel.dataset.live.split(" ").map(function (t) { return live.lastMessage[t] || 0; });
    const since = Math.max.apply(null, heard);
    const requested = Number(panel.dataset.requestedAt || now);
    live.updates.push({ panel: panel.id, fromMessageMs: since ? now - since : null, fetchMs: now - requested });
    if (!panel.hidden) flash(panel);
  });
  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    flash(evt.detail.target);
  });

  function flash(panel) {
    panel.animate(
      [
        { outline: "1px solid rgba(92, 255, 138, 0.75)", outlineOffset: "-1px" },
        { outline: "1px solid rgba(92, 255, 138, 0)", outlineOffset: "-1px" },
      ],
      { duration: 900, easing: "ease-out" }
    );
  }

  // The decision drill-down: one delegated listener rather than htmx attributes on every row, so refreshing the
  // list stays cheap. The decision on show stays highlighted in the list.
  function openDecision(row) {
    document.querySelectorAll("tr[data-decision][aria-current]").forEach(function (other) {
      other.removeAttribute("aria-current");
    });
    row.setAttribute("aria-current", "true");
    live.selected = row.dataset.decision;
    htmx.ajax("GET", "/ui/decisions/" + encodeURIComponent(row.dataset.decision), "#drilldown");
  }
  document.addEventListener("click", function (evt) {
    const row = evt.target.closest && evt.target.closest("#decisions tr[data-decision]");
    if (row) openDecision(row);
  });
  document.addEventListener("keydown", function (evt) {
    const row = evt.target.closest && evt.target.closest("#decisions tr[data-decision]");
    if (row && (evt.key === "Enter" || evt.key === " ")) {
      evt.preventDefault();
      openDecision(row);
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!live.selected) return;
    const row = document.querySelector('#decisions tr[data-decision="' + CSS.escape(live.selected) + '"]');
    if (row) row.setAttribute("aria-current", "true");
  });

  // A request refused for want of a token (the session ended, the token changed): reload, which asks for it.
  // A refused kill-switch command shows the server's reason under the buttons.
  document.addEventListener("htmx:responseError", function (evt) {
    const xhr = evt.detail.xhr;
    if (xhr.status === 401) {
      window.location.reload();
      return;
    }
    const button = evt.detail.elt;
    const note = document.getElementById("killswitch-error");
    if (note && button.dataset && button.dataset.killswitch) {
      let reason = xhr.statusText;
      try {
        reason = JSON.parse(xhr.responseText).error || reason;
      } catch (ignored) {
        // not JSON: keep the status text
      }
      note.textContent = "Refused: " + reason;
    }
  });

  function tick() {
    const clock = document.getElementById("clock");
    if (clock) clock.textContent = new Date().toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  async function unlock(event) {
    event.preventDefault();
    const input = document.getElementById("token-input");
    const error = document.getElementById("token-error");
    error.textContent = "";
    const response = await fetch("/auth/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: input.value }),
      credentials: "same-origin",
    });
    await response.text(); // read to the end, so the reload does not abort it
    if (response.ok) {
      window.location.reload();
      return;
    }
    input.value = "";
    error.textContent = response.status === 401 ? "Wrong token." : "Refused (" + response.status + ").";
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
    const form = document.getElementById("token-form");
    if (form) {
      form.addEventListener("submit", unlock);
      document.getElementById("token-input").focus();
    }
  });
})();
