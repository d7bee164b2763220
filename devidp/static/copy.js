// Copy button of the TOTP setup page: copies the value of the element named by
// data-copy-target. Loaded as a file (no inline script) so the page's CSP stays strict.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) { return; }
      var label = button.textContent;
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(target.value).then(done, function () {
          target.select();
        });
      } else {
        target.select();
        if (document.execCommand("copy")) { done(); }
      }
    });
  });
});
