/* QA rule library: refuse an oversized import before uploading it, and let Ctrl+Enter
 * in the test box run the test. Kept out of the templates (no inline scripts). */
(function () {
  "use strict";

  const file = document.querySelector("input[type=file][data-max-bytes]");
  if (file) {
    file.addEventListener("change", function () {
      const limit = Number(file.dataset.maxBytes);
      const error = document.querySelector("[data-import-error]");
      const tooBig = file.files.length > 0 && file.files[0].size > limit;
      file.setCustomValidity(tooBig ? "The file is larger than 1 MB." : "");
      if (error) {
        error.textContent = tooBig ? "The file is larger than 1 MB; choose a smaller one." : "";
        error.hidden = !tooBig;
      }
    });
  }

  const utterance = document.querySelector("[data-testid=utterance]");
  const test = document.querySelector("[data-testid=test-rule]");
  if (utterance && test) {
    utterance.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        test.click();
      }
    });
  }
})();
