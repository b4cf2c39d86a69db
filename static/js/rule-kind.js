// The risk rule form (riskcontrol.admin.RuleForm): show the parameters of the chosen kind
// only; the others' fields are hidden and disabled, so they are not sent.
(function () {
  "use strict";
  function sync() {
    var select = document.getElementById("id_kind");
    if (!select) return;
    document.querySelectorAll("fieldset.kpay-rule-params").forEach(function (fieldset) {
      var chosen = fieldset.classList.contains("kpay-kind-" + select.value);
      fieldset.hidden = !chosen;
      fieldset.querySelectorAll("input, select, textarea").forEach(function (field) {
        field.disabled = !chosen;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_kind");
    if (!select) return;
    select.addEventListener("change", sync);
    sync();
  });
})();
