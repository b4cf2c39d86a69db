/* Polls an order's status (payments:status) every 2 s while the learner waits for the
   gateway; goes to the result page once paid, reloads if the order closes.
   Markup: <div data-status-url="…">. Reading the status never changes anything. */
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
        } else if (data.closed) {
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
