/* QA review: keyboard-driven queue and flag pages, the review dialog, and audio that
 * starts at the flag. Kept out of the templates so a Content-Security-Policy without
 * 'unsafe-inline' can be set later without touching them. */
(function () {
  "use strict";

  const page = document.querySelector("[data-qa-page]");
  if (!page) return;
  const kind = page.dataset.qaPage;
  const dialog = document.getElementById("review-dialog");
  const form = document.getElementById("review-form");
  const help = document.getElementById("qa-help");
  const audio = document.getElementById("flag-audio");
  const SELECTED_KEY = "parley.qa.selected";

  // --- queue selection ----------------------------------------------------------------

  function rows() {
    return Array.from(document.querySelectorAll("tr[data-flag-id]"));
  }

  function selectedRow() {
    return document.querySelector("tr[data-flag-id].selected");
  }

  function select(index) {
    const all = rows();
    if (!all.length) return;
    const row = all[Math.max(0, Math.min(index, all.length - 1))];
    all.forEach(function (r) {
      r.classList.remove("selected");
      r.removeAttribute("aria-selected");
    });
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({ block: "nearest" });
    sessionStorage.setItem(SELECTED_KEY, row.dataset.flagId);
  }

  function move(step) {
    const all = rows();
    const current = selectedRow();
    select(current ? all.indexOf(current) + step : 0);
  }

  function restoreSelection() {
    const all = rows();
    const remembered = sessionStorage.getItem(SELECTED_KEY);
    const index = all.findIndex(function (r) { return r.dataset.flagId === remembered; });
    select(index >= 0 ? index : 0);
  }

  // --- the review dialog --------------------------------------------------------------

  let reviewTarget = null; // the queue row being reviewed; null on the flag page
  let reviewFailed = false;

  function reasonInputs() {
    return Array.from(form.querySelectorAll("input[name=reason]"));
  }

  function showError(message) {
    const error = form.querySelector("[data-error]");
    error.textContent = message || "";
    error.hidden = !message;
  }

  function openReview(decision) {
    if (!dialog) return;
    let url, evidence;
    if (kind === "queue") {
      reviewTarget = selectedRow();
      if (!reviewTarget) return;
      url = reviewTarget.dataset.reviewUrl;
      evidence = reviewTarget.dataset.evidence;
    } else {
      reviewTarget = null;
      url = page.dataset.reviewUrl;
      evidence = page.dataset.evidence;
    }
    const dismissing = decision === "dismiss";
    form.action = url;
    form.elements.decision.value = decision;
    form.elements.queue.value = location.search.replace(/^\?/, "");
    form.elements.comment.value = "";
    form.querySelector("[data-evidence]").textContent = "“" + evidence + "”";
    dialog.querySelector("h2").textContent = dismissing ? "Dismiss this flag" : "Confirm this flag";
    form.querySelector("[data-submit]").textContent = dismissing ? "Dismiss" : "Confirm";
    const fieldset = form.querySelector("[data-reasons]");
    fieldset.hidden = !dismissing;
    reasonInputs().forEach(function (input) {
      input.checked = false;
      input.disabled = !dismissing; // disabled inputs are neither validated nor sent
    });
    showError("");
    dialog.showModal();
    (dismissing ? reasonInputs()[0] : form.elements.comment).focus();
  }

  function submitReview(event) {
    event.preventDefault();
    const dismissing = form.elements.decision.value === "dismiss";
    const reason = form.querySelector("input[name=reason]:checked");
    if (dismissing && !reason) return showError("Pick a reason (1–" + reasonInputs().length + ").");
    if (reason && reason.value === "other" && !form.elements.comment.value.trim()) {
      return showError("Say in the comment why the flag is dismissed.");
    }
    showError("");
    reviewFailed = false;
    const target = reviewTarget;
    const index = target ? rows().indexOf(target) : -1;
    htmx.ajax("POST", form.action, {
      source: form,
      target: target || form,
      swap: target ? "outerHTML" : "none",
    }).then(function () {
      if (reviewFailed) return;
      dialog.close();
      if (target) select(index + 1);
    });
  }

  if (form) {
    form.addEventListener("submit", submitReview);
    form.querySelector("[data-cancel]").addEventListener("click", function () { dialog.close(); });
    // htmx does not swap error responses; show the server's reason in the dialog instead.
    form.addEventListener("htmx:responseError", function (event) {
      reviewFailed = true;
      showError(event.detail.xhr.responseText || "The decision was not saved; try again.");
    });
  }

  function onDialogKey(event) {
    const typing = event.target.tagName === "TEXTAREA";
    if (!typing && /^[1-9]$/.test(event.key)) {
      const input = reasonInputs()[Number(event.key) - 1];
      if (input && !input.disabled) {
        input.checked = true;
        input.focus();
        event.preventDefault();
      }
    } else if (event.key === "Enter" && !event.shiftKey && event.target.tagName !== "BUTTON") {
      // Enter saves, in the comment too (Shift+Enter starts a new line there).
      event.preventDefault();
      form.requestSubmit();
    }
  }

  // --- audio --------------------------------------------------------------------------

  function playFrom(seconds) {
    if (!audio) return;
    audio.currentTime = seconds;
    audio.play().catch(function () { /* the reviewer can press play */ });
  }

  if (audio) {
    const start = Number(audio.dataset.start || 0);
    // The #t= fragment already asks for this; some players ignore it, so set it too.
    const seek = function () {
      if (start && Math.abs(audio.currentTime - start) > 0.25) audio.currentTime = start;
    };
    if (audio.readyState >= 1) seek();
    else audio.addEventListener("loadedmetadata", seek, { once: true });
  }

  document.addEventListener("click", function (event) {
    const seekButton = event.target.closest("[data-seek]");
    if (seekButton) return playFrom(Number(seekButton.dataset.seek));
    if (event.target.closest("[data-replay]")) return playFrom(Number(audio.dataset.start || 0));
    const reviewButton = event.target.closest("[data-review]");
    if (reviewButton) return openReview(reviewButton.dataset.review);
    if (event.target.closest("[data-help]")) return toggleHelp();
    const row = event.target.closest("tr[data-flag-id]");
    if (row) select(rows().indexOf(row));
  });

  // --- keys ---------------------------------------------------------------------------

  function toggleHelp() {
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  }

  function isTyping(element) {
    return element.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(element.tagName);
  }

  document.addEventListener("keydown", function (event) {
    if (dialog && dialog.open) return onDialogKey(event);
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (help && help.open && event.key !== "?") return;
    const onControl = ["A", "BUTTON"].includes(event.target.tagName);
    let handled = true;
    switch (event.key) {
      case "j": if (kind === "queue") move(1); else handled = false; break;
      case "k": if (kind === "queue") move(-1); else handled = false; break;
      case "Enter":
        if (kind === "queue" && !onControl && selectedRow()) location.href = selectedRow().dataset.href;
        else handled = false;
        break;
      case "c": if (kind !== "scorecard") openReview("confirm"); else handled = false; break;
      case "d": if (kind !== "scorecard") openReview("dismiss"); else handled = false; break;
      case "p": if (audio) { if (audio.paused) audio.play().catch(function () {}); else audio.pause(); } else handled = false; break;
      case "r": if (audio) playFrom(Number(audio.dataset.start || 0)); else handled = false; break;
      case "Escape": if (kind === "flag") location.href = page.dataset.queueUrl; else handled = false; break;
      case "?": toggleHelp(); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  if (kind === "queue") {
    restoreSelection();
    // New results (a filter or page change): start again from the top.
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target.id === "queue-results") select(0);
    });
  }
})();
