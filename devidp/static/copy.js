// Copy button of the TOTP setup page: shows the button (it is hidden without JavaScript, where
// the key can still be selected), copies its data-copy-text, and says so in the status region
// named by data-copy-status, in the page's language (data-copied-label, data-copied-status).
// Loaded as a file (no inline script) so the page's CSP stays strict.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy-text]").forEach(function (button) {
    var label = button.textContent;
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    var copiedLabel = button.getAttribute("data-copied-label") || "Copied";
    var copiedStatus = button.getAttribute("data-copied-status") || "Key copied";
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy-text");
      var done = function () {
        button.textContent = copiedLabel;
        if (status) { status.textContent = copiedStatus; }
        setTimeout(function () {
          button.textContent = label;
          if (status) { status.textContent = ""; }
        }, 2000);
      };
      var fallback = function () {
        var area = document.createElement("textarea");
        area.value = text;
        area.setAttribute("readonly", "");
        area.style.position = "fixed";
        area.style.opacity = "0";
        document.body.appendChild(area);
        area.select();
        var ok = document.execCommand("copy");
        document.body.removeChild(area);
        button.focus();
        if (ok) { done(); }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  });
});
