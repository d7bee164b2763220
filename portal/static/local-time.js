// Shows each <time data-local-time datetime="...Z"> in the customer's own time zone. The UTC
// text in the page stays as the fallback without JavaScript, and as the element's tooltip.
document.addEventListener("DOMContentLoaded", function () {
  var format;
  try {
    format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
    });
  } catch (error) {
    return;
  }
  document.querySelectorAll("time[data-local-time]").forEach(function (element) {
    var when = new Date(element.getAttribute("datetime"));
    if (isNaN(when.getTime())) { return; }
    element.title = element.textContent;
    element.textContent = format.format(when);
  });
});
