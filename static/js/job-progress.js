// A background job's progress page (templates/admin/kpay/job_progress.html): polls the
// job's status view and moves the bar; goes to the result page when the job is done.
(function () {
  "use strict";
  var page = document.querySelector(".kpay-job");
  if (!page || page.dataset.finished === "1") return;
  var url = page.dataset.statusUrl;
  var bar = page.querySelector("progress");
  function part(name) { return page.querySelector('[data-job="' + name + '"]'); }
  function show(status) {
    part("state_label").textContent = status.state_label;
    part("step").textContent = status.step || "";
    if (status.percent === null) { bar.removeAttribute("value"); part("percent").textContent = ""; }
    else { bar.value = status.percent; part("percent").textContent = status.percent + "%"; }
    if (status.error) { part("error").textContent = status.error; part("error").hidden = false; }
    if (status.result_url) {
      part("result").querySelector("a").href = status.result_url;
      part("result").hidden = false;
    }
  }
  var delay = 500;
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) { setTimeout(poll, 5000); return; }
        show(status);
        if (status.finished) {
          if (status.state === "succeeded" && status.result_url) window.location.assign(status.result_url);
          return;
        }
        delay = Math.min(delay * 1.5, 3000);
        setTimeout(poll, delay);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, delay);
})();
