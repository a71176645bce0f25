// fleetd console: the one script. It only refreshes a running run's
// progress in place; every page works without it (a running run's page
// then reloads itself every few seconds).
(function () {
  "use strict";
  var el = document.querySelector("[data-poll]");
  if (!el) { return; }
  // The page's own reload is for browsers without JavaScript.
  var meta = document.querySelector("meta[http-equiv=refresh]");
  if (meta) { meta.parentNode.removeChild(meta); }
  var url = el.getAttribute("data-poll");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        var done = resp.headers.get("X-Run-Finished") === "1";
        return resp.text().then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector("[data-poll]") || doc.body;
          el.replaceChildren.apply(el, Array.prototype.slice.call(fresh.childNodes));
          if (done) { window.location.reload(); } else { setTimeout(tick, 2000); }
        });
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 2000);
})();
