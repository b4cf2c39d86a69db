/* Polls an order's status (payments:status) every 2 s while the learner pays: goes to the
   result page once paid, reloads the page when the order closes or the attempt failed
   (the page then says so and offers another way). Markup: <div data-status-url="…">.
   Reading the status never changes anything. */
(function () {
  "use strict";
  var el = document.querySelector("[data-status-url]");
  if (!el || !window.fetch) { return; }
  var url = el.getAttribute("data-status-url");
  var every = 2000;
  var attemptsLeft = 900; // 30 minutes: the order's payment deadline
  var done = false;

  function schedule() {
    if (!done && attemptsLeft-- > 0) { window.setTimeout(poll, every); }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data.paid) {
          done = true;
          window.location.assign(data.result_url);
        } else if (data.closed || data.failed) {
          done = true;
          window.location.reload();
        } else {
          schedule();
        }
      })
      .catch(schedule);
  }

  schedule();
})();
