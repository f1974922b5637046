/* Closeout's page behaviour. No inline scripts anywhere (CSP): everything hooks onto data-* attributes. */
(function () {
  "use strict";
})();

/* --- Wind-down and notifications (issue 6) --- */
/* Copy buttons: <button data-copy-target="#textarea-id" hidden> is shown only when JS runs; the textarea stays
   usable (select and copy by hand) without it. A sibling [data-copy-status] announces the result. */
(function () {
  "use strict";
  function reveal(root) {
    root.querySelectorAll("[data-copy-target][hidden]").forEach(function (button) { button.hidden = false; });
  }
  function copyFallback(field) {
    field.focus();
    field.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var field = document.querySelector(button.getAttribute("data-copy-target"));
    if (!field) { return; }
    var status = button.parentElement.querySelector("[data-copy-status]");
    var done = function (ok) {
      if (status) { status.textContent = ok ? "Copied to the clipboard." : "Select the text and copy it (Ctrl+C)."; }
      button.setAttribute("data-copied", ok ? "true" : "false");
    };
    var text = field.value !== undefined ? field.value : field.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(copyFallback(field)); });
    } else {
      done(copyFallback(field));
    }
  });
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSettle", function () { reveal(document); });
})();

/* --- campaign list selection and dialogs (issue 3) --- */
(function () {
  "use strict";

  // Selection bar: counts checked rows, "select all on this page", "select all N matching this filter".
  function syncSelection(form) {
    if (!form) return;
    const rows = Array.from(form.querySelectorAll("[data-select-row]"));
    const checked = rows.filter(function (box) { return box.checked; });
    const pageBox = form.querySelector("[data-select-page]");
    const matching = form.querySelector("[data-select-matching]");
    const matchingLabel = form.querySelector("[data-select-matching-label]");
    const bar = form.querySelector("[data-selection-bar]");
    const count = form.querySelector("[data-selection-count]");
    rows.forEach(function (box) { box.closest("tr").classList.toggle("selected", box.checked); });
    if (pageBox) {
      pageBox.checked = rows.length > 0 && checked.length === rows.length;
      pageBox.indeterminate = checked.length > 0 && checked.length < rows.length;
    }
    const allOnPage = rows.length > 0 && checked.length === rows.length;
    if (matching && !allOnPage) matching.checked = false;
    if (matchingLabel) matchingLabel.hidden = !allOnPage;
    const n = matching && matching.checked ? Number(form.dataset.matching) : checked.length;
    // "10,000+ selected" when the list counted its matches up to a bound only.
    const shown = matching && matching.checked ? form.dataset.matchingText || n : n;
    if (count) count.textContent = n ? shown + " selected" : "Select campaigns, then:";
    // The bar stays in place (it sits before the table: showing it would push the rows down); its buttons wait
    // for a selection.
    if (bar) bar.querySelectorAll("button[name=action]").forEach(function (button) { button.disabled = n === 0; });
  }

  function initSelection(root) {
    (root.matches && root.matches("[data-bulk-form]") ? [root] : Array.from(root.querySelectorAll("[data-bulk-form]")))
      .forEach(syncSelection);
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    const form = target.closest && target.closest("[data-bulk-form]");
    if (!form) return;
    if (target.matches("[data-select-page]")) {
      form.querySelectorAll("[data-select-row]").forEach(function (box) { box.checked = target.checked; });
    }
    syncSelection(form);
  });

  // The search box triggers the table on "input" (debounced in hx-trigger); its "change" on blur would fetch
  // the same table again and wipe a selection just made, so it stops here.
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-search-input]")) event.stopPropagation();
  }, true);

  // Dialogs: opened as modal when htmx brings one in; Tab stays inside; Esc (native "cancel") closes;
  // on close the dialog is removed and focus goes back to what opened it.
  let returnFocusTo = null;
  const FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function restoreFocus() {
    const target = returnFocusTo && document.body.contains(returnFocusTo) ? returnFocusTo : null;
    returnFocusTo = null;
    if (target) { target.focus(); return; }
    const message = document.querySelector("#messages .message");
    if (message) { message.setAttribute("tabindex", "-1"); message.focus(); return; }
    const main = document.getElementById("main");
    if (main) main.focus();
  }

  function openDialogs(root) {
    const scope = root.querySelectorAll ? root : document;
    scope.querySelectorAll("dialog[data-dialog]:not([open])").forEach(function (dialog) {
      dialog.addEventListener("close", function () { dialog.remove(); restoreFocus(); });
      dialog.showModal();
      const invalid = dialog.querySelector("[aria-invalid=true]");
      if (invalid) invalid.focus();
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab") return;
    const dialog = document.querySelector("dialog[data-dialog][open]");
    if (!dialog) return;
    const items = Array.from(dialog.querySelectorAll(FOCUSABLE)).filter(function (el) { return el.offsetParent !== null; });
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault(); last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
      event.preventDefault(); first.focus();
    }
  });

  document.addEventListener("click", function (event) {
    const closer = event.target.closest && event.target.closest("[data-dialog-close]");
    if (!closer) return;
    const dialog = closer.closest("dialog");
    if (dialog) dialog.close();
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    // Remember the control that asked for a dialog (not a control inside the dialog re-submitting it).
    const active = document.activeElement;
    if (active && !active.closest("dialog") && event.detail.target && event.detail.target.id === "dialog-slot") {
      returnFocusTo = active;
    }
  });

  document.addEventListener("campaignStatusChanged", function () {
    document.querySelectorAll("dialog[data-dialog][open]").forEach(function (dialog) { dialog.close(); });
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    openDialogs(document);
    initSelection(document);
  });
  document.addEventListener("DOMContentLoaded", function () { initSelection(document); });
})();

/* --- import upload progress (issue 7) --- */
(function () {
  "use strict";
  // The upload form is an ordinary multipart form; with htmx it posts by XHR so the bytes sent can be shown.
  document.addEventListener("htmx:xhr:progress", function (event) {
    const form = event.target.closest && event.target.closest("[data-upload-form]");
    if (!form || !event.detail.lengthComputable) return;
    const box = form.querySelector("[data-upload-progress]");
    const percent = Math.round((event.detail.loaded / event.detail.total) * 100);
    box.hidden = false;
    box.querySelector("progress").value = percent;
    box.querySelector("[data-upload-status]").textContent =
      percent < 100 ? "Uploading… " + percent + "%" : "Uploaded. Reading the file and checking every row…";
  });
})();

/* --- list row menus, focus after an action, nav counts (issue 16) --- */
(function () {
  "use strict";

  // Row menus are <details data-row-menu>: they work without JS. With it, one is open at a time, Esc closes it
  // (focus back on its button), and a click elsewhere closes it.
  function closeMenus(except) {
    document.querySelectorAll("details[data-row-menu][open]").forEach(function (menu) {
      if (menu !== except) menu.open = false;
    });
  }
  document.addEventListener("toggle", function (event) {
    const menu = event.target;
    if (menu.matches && menu.matches("details[data-row-menu]") && menu.open) closeMenus(menu);
  }, true);
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("details[data-row-menu]")) closeMenus(null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const menu = event.target.closest && event.target.closest("details[data-row-menu][open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });

  // After a confirmed action the list is swapped in again; the server names the changed row
  // (HX-Trigger-After-Settle: campaignRowFocus) and focus goes to it, not to the top of the page.
  document.addEventListener("campaignRowFocus", function (event) {
    const id = event.detail && event.detail.id;
    const row = id && document.getElementById("campaign-" + id);
    if (!row) return;
    const link = row.querySelector("th a") || row;
    link.focus();
  });
})();

/* --- errors said at the top of the page get the focus (issue 16) --- */
(function () {
  "use strict";
  // A server-rendered error summary (e.g. the schedule form's, which sits below the fold) is focused on load, so
  // keyboard and screen-reader users start at what went wrong; `autofocus` does the same where it is honoured.
  document.addEventListener("DOMContentLoaded", function () {
    const summary = document.querySelector("[data-focus-on-load]");
    if (summary) summary.focus();
  });
})();

/* --- The viewer's time zone (issue 16) --- */
/* Pages write times in the account's zone; the server adds the viewer's own time on hover when it knows the
   viewer's zone, which is the browser's, sent in this cookie (campaigns/timezones.py). Without JS: no cookie,
   account zone only. */
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) { return; }
  // IANA names ("America/New_York") are valid cookie values as they are.
  var cookie = "closeout_tz=" + zone;
  if (!/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) { return; }
  if (document.cookie.split("; ").indexOf(cookie) === -1) {
    document.cookie = cookie + "; path=/; max-age=31536000; samesite=lax";
  }
})();

// Rule form (issue 17): a field shows only when its condition, action or scope uses it (data-shown-when=
// "control:value,value"). Without JavaScript every field shows and the server ignores the ones that do not apply.
(function () {
  "use strict";
  function controlValue(form, name) {
    const checked = form.querySelector("[name=" + name + "]:checked");
    if (checked) return checked.value;
    const control = form.querySelector("select[name=" + name + "]");
    return control ? control.value : "";
  }
  function sync(form) {
    form.querySelectorAll("[data-shown-when]").forEach(function (field) {
      const parts = field.dataset.shownWhen.split(":");
      field.hidden = parts[1].split(",").indexOf(controlValue(form, parts[0])) === -1;
    });
  }
  function init(root) {
    root.querySelectorAll("form[data-rule-form]").forEach(sync);
  }
  document.addEventListener("change", function (event) {
    const form = event.target.closest && event.target.closest("form[data-rule-form]");
    if (form) sync(form);
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function () { init(document); });
})();
