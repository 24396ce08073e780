// The finance workbench's small conveniences. Everything works without it.
// CSP: script-src 'self' — no inline handlers, no network except this site.
(function () {
  "use strict";

  // Print buttons on the reports.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // Changing the sort submits the filter form at once.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { if (select.form) select.form.submit(); });
  });

  // Resolve form: the dossier field only matters for a manual match; look the dossier up.
  var form = document.querySelector("[data-testid=resolve-form]");
  if (form) {
    var type = form.querySelector("select[name=resolution_type]");
    var box = form.querySelector(".match-dossier");
    var input = form.querySelector("input[name=dossier_code]");
    var result = form.querySelector(".lookup-result");
    var sync = function () {
      var manual = type.value === "matched_manually";
      box.hidden = !manual;
      input.required = manual;
    };
    type.addEventListener("change", sync);
    sync();
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var code = input.value.trim();
      result.textContent = "";
      if (!code) return;
      timer = setTimeout(function () {
        fetch(input.dataset.lookup + "?code=" + encodeURIComponent(code), {
          headers: { "Accept": "application/json" }, credentials: "same-origin"
        }).then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        }).then(function (r) {
          if (input.value.trim() !== code) return;
          result.textContent = r.ok && r.body.found
            ? r.body.code + " · " + r.body.applicant + " · " + r.body.agency + " · " +
              input.dataset.tAssessed + " " + r.body.assessed_text + " · " +
              input.dataset.tPaid + " " + r.body.paid_text
            : "✘ " + code + ": " + input.dataset.tMissing;
        }).catch(function () { result.textContent = ""; });
      }, 300);
    });
  }
})();
