/* The promoter page: "Copy" puts a link on the clipboard (without JavaScript, or where the
   clipboard is refused, the link is in a box to select); a withdrawal button is pressed
   once (the server also makes a second press the same withdrawal). */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    button.addEventListener("click", function () {
      var box = document.getElementById(button.getAttribute("data-copy"));
      var done = function () {
        var label = button.textContent;
        button.textContent = button.getAttribute("data-copied");
        window.setTimeout(function () { button.textContent = label; }, 1500);
      };
      box.focus();
      box.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(box.value).then(done, function () {});
      } else if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("form.withdraw"), function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("[data-once]");
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
  });
})();
