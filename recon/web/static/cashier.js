// The cashier's desk: countdown, status polling (every 2 s), print, scanner-friendly search.
// No inline script anywhere (CSP script-src 'self'); every text comes from data-* attributes
// the server rendered in the desk's language.
(function () {
  "use strict";

  var POLL_MS = 2000;

  function formatVnd(amount) {
    var digits = String(Math.abs(amount)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    return (amount < 0 ? "-" : "") + digits + "\u00a0₫";
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function setupSearch() {
    var input = document.getElementById("dossier-code");
    if (!input) { return; }
    // A scanner types the code and presses Enter: select what is there so a scan replaces it.
    input.addEventListener("focus", function () { input.select(); });
    if (document.activeElement === input || !document.getElementById("slip")) {
      input.focus();
      input.select();
    }
  }

  // Amounts are written the Vietnamese way: "8000" becomes "8.000" when the field is left.
  function groupDigits(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, "."); }

  function setupAmounts() {
    var inputs = document.querySelectorAll("input[data-amount]");
    Array.prototype.forEach.call(inputs, function (input) {
      input.addEventListener("blur", function () {
        var value = input.value.trim();
        if (/^[1-9][0-9]*$/.test(value)) { input.value = groupDigits(value); }
      });
    });
  }

  // The day's list: search as you type (the server folds diacritics), the agency choice
  // refreshes it, a row opens its dossier. Enter still submits the form, so a scanned code
  // (typed fast, then Enter) opens its dossier as before.
  function setupQueue() {
    var form = document.getElementById("desk-search");
    var input = document.getElementById("dossier-code");
    if (!form || !input || !document.getElementById("desk-list")) { return; }
    var agency = document.getElementById("desk-agency");
    var listUrl = form.getAttribute("data-list-url");
    var timer = null;
    var asked = 0;
    var lastKey = null;

    function params() {
      var p = new URLSearchParams();
      var q = input.value.trim();
      if (q) { p.set("q", q); }
      if (agency) { p.set("agency", agency.value); }
      return p;
    }

    function refresh() {
      var p = params();
      var key = p.toString();
      if (key === lastKey) { return; }
      lastKey = key;
      var mine = ++asked;
      fetch(listUrl + "&" + key, { credentials: "same-origin", cache: "no-store",
                                   headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null || mine !== asked) { return; }
          var list = document.getElementById("desk-list");
          if (!list) { return; }
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#desk-list");
          if (fresh) { list.parentNode.replaceChild(fresh, list); }
          var shown = new URLSearchParams(p);
          shown.delete("agency");
          var query = shown.toString();
          window.history.replaceState(null, "", form.getAttribute("action") +
                                      (query ? "?" + query : ""));
        })
        .catch(function () { /* the form still works: Enter submits it */ });
    }

    lastKey = params().toString();
    input.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 250);
    });
    form.addEventListener("submit", function () {
      if (timer) { clearTimeout(timer); timer = null; }
      asked++; // a late answer must not replace the page the form is loading
    });
    if (agency) {
      agency.addEventListener("change", function () {
        if (timer) { clearTimeout(timer); timer = null; }
        refresh();
      });
    }
    document.addEventListener("click", function (event) {
      var target = event.target;
      if (!(target instanceof Element) || target.closest("a, button, input, select")) { return; }
      var row = target.closest("#desk-list tr[data-href]");
      if (row) { window.location.assign(row.getAttribute("data-href")); }
    });
  }

  function setupChannelLabel() {
    var form = document.querySelector("[data-testid=intent-form]");
    if (!form) { return; }
    var select = form.querySelector("select[name=channel]");
    var button = form.querySelector("button[type=submit]");
    if (!select || !button) { return; }
    var qrLabel = button.getAttribute("data-label-vietqr") || button.textContent;
    var otherLabel = button.getAttribute("data-label-other") || qrLabel;
    select.addEventListener("change", function () {
      button.textContent = select.value === "vietqr" ? qrLabel : otherLabel;
    });
  }

  function setupPrint() {
    var buttons = document.querySelectorAll("[data-action=print]");
    Array.prototype.forEach.call(buttons, function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  }

  function setupSlip() {
    var slip = document.getElementById("slip");
    if (!slip) { return; }
    var statusUrl = slip.getAttribute("data-status-url");
    var dossierUrl = slip.getAttribute("data-dossier-url");
    var line = slip.querySelector(".state-line");
    var status = slip.getAttribute("data-status");
    var remaining = parseInt(slip.getAttribute("data-expires-in"), 10) || 0;
    var deadline = performance.now() + remaining * 1000; // server's clock, not the desk's
    var timer = null;
    var ticker = null;

    function text(name) { return slip.getAttribute("data-t-" + name) || ""; }

    function setState(newStatus) {
      status = newStatus;
      slip.setAttribute("data-status", newStatus);
      slip.className = slip.className.replace(/\bstate-\S+/g, "") + " state-" + newStatus;
      line.textContent = "";
      if (newStatus === "paid") {
        var banner = document.createElement("strong");
        banner.className = "paid-banner";
        banner.textContent = text("paid");
        line.appendChild(banner);
        line.appendChild(document.createTextNode(" " + text("paid-note")));
      } else {
        var msg = document.createElement("span");
        msg.className = "error";
        msg.textContent = text(newStatus);
        line.appendChild(msg);
      }
      var cancel = slip.querySelector(".cancel-form");
      if (cancel) { cancel.parentNode.removeChild(cancel); }
      updateRow(newStatus);
      stop();
      if (newStatus === "paid") {
        refreshTotals();
        // "In biên lai": shown once paid (receipts on), it opens the receipt's print view
        var printReceipt = slip.querySelector("[data-receipt-link]");
        if (printReceipt) { printReceipt.hidden = false; }
      }
    }

    // the same intent in the list of payment requests
    function updateRow(newStatus) {
      var row = document.querySelector("[data-intent-row='" + slip.getAttribute("data-intent-id") + "']");
      if (!row) { return; }
      var label = row.querySelector("[data-role=status]");
      if (label) {
        label.textContent = text("status-" + newStatus) || newStatus;
        label.className = "status status-" + newStatus;
      }
      var form = row.querySelector(".cancel-form");
      if (form) { form.parentNode.removeChild(form); }
    }

    function stop() {
      if (timer) { clearTimeout(timer); timer = null; }
      if (ticker) { clearInterval(ticker); ticker = null; }
    }

    function tick() {
      var left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
      var el = slip.querySelector("[data-testid=countdown]");
      if (el) { el.textContent = pad(Math.floor(left / 60)) + ":" + pad(left % 60); }
      line.classList.toggle("urgent", left <= 60);
    }

    function showOffline(message) {
      var el = slip.querySelector(".offline");
      if (!el) {
        el = document.createElement("span");
        el.className = "offline error";
        line.appendChild(el);
      }
      el.textContent = message;
    }

    function clearOffline() {
      var el = slip.querySelector(".offline");
      if (el) { el.parentNode.removeChild(el); }
    }

    function refreshTotals() {
      fetch(dossierUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin",
                          cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (!d) { return; }
          var paid = document.querySelector("[data-field=paid]");
          var outstanding = document.querySelector("[data-field=outstanding]");
          if (paid) { paid.textContent = formatVnd(d.total_paid); }
          if (outstanding) {
            outstanding.textContent = formatVnd(d.outstanding);
            outstanding.parentNode.classList.toggle("settled", d.outstanding === 0);
          }
          if (d.outstanding === 0) {
            var collect = document.querySelector(".collect");
            if (collect) { collect.parentNode.removeChild(collect); }
          }
        })
        .catch(function () { /* totals refresh on the next page load */ });
    }

    function poll() {
      fetch(statusUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin",
                         cache: "no-store" })
        .then(function (r) {
          if (r.status === 401 || r.status === 403) {
            showOffline(text("login"));
            stop();
            return null;
          }
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (body) {
          if (!body) { return; }
          clearOffline();
          if (body.status !== "issued") {
            setState(body.status);
            return;
          }
          deadline = performance.now() + body.expires_in_seconds * 1000;
          timer = setTimeout(poll, POLL_MS);
        })
        .catch(function () {
          showOffline(text("offline"));
          timer = setTimeout(poll, POLL_MS);
        });
    }

    if (status === "issued") {
      tick();
      ticker = setInterval(tick, 500);
      timer = setTimeout(poll, POLL_MS);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupSearch();
    setupQueue();
    setupAmounts();
    setupChannelLabel();
    setupPrint();
    setupSlip();
  });
}());
