// usp-plugfest report filters. Reads data-* attributes and toggles a class:
// it never turns report text into markup, so nothing an Agent sent can run.
(function () {
  "use strict";
  var failedOnly = document.getElementById("f-failed");
  var profile = document.getElementById("f-profile");
  var mtp = document.getElementById("f-mtp");
  var search = document.getElementById("f-search");
  var shown = document.getElementById("f-shown");
  var cases = Array.prototype.slice.call(document.querySelectorAll("details.case"));

  function apply() {
    var needle = search.value.trim().toLowerCase();
    var count = 0;
    cases.forEach(function (c) {
      var ok = true;
      if (failedOnly.checked && (c.dataset.verdict === "passed" || c.dataset.verdict === "skipped")) ok = false;
      if (profile.value && c.dataset.profile !== profile.value) ok = false;
      if (mtp.value && c.dataset.mtp !== mtp.value) ok = false;
      if (ok && needle && c.textContent.toLowerCase().indexOf(needle) < 0) ok = false;
      c.classList.toggle("hidden", !ok);
      if (ok) count += 1;
    });
    shown.textContent = count + " of " + cases.length + " cases shown";
  }

  // Filters can be preset in the address (report.html?failed=1&profile=P&mtp=M&q=text),
  // so a link can point at just the failures.
  var preset = new URLSearchParams(window.location.search);
  if (preset.get("failed") === "1") failedOnly.checked = true;
  if (preset.has("profile")) profile.value = preset.get("profile");
  if (preset.has("mtp")) mtp.value = preset.get("mtp");
  if (preset.has("q")) search.value = preset.get("q");

  [failedOnly, profile, mtp].forEach(function (el) { el.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  document.getElementById("f-expand").addEventListener("click", function () {
    cases.forEach(function (c) { if (!c.classList.contains("hidden")) c.open = true; });
  });
  apply();
  // Lets tests (and people) see that the page's own script ran to the end.
  document.body.setAttribute("data-ready", "1");
})();
