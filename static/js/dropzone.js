/* Progressive enhancement of the credential upload forms: dropping a file on a field fills
   its ordinary file input. A static file, not inline, so the CSP can say script-src 'self'.
   Runs on load and again after htmx swaps a form in. */
(function () {
  "use strict";
  function enhance(root) {
    root.querySelectorAll("[data-dropzone]").forEach(function (zone) {
      if (zone.dataset.ready) { return; }
      zone.dataset.ready = "1";
      var input = zone.querySelector("input[type=file]");
      zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("dragover"); });
      zone.addEventListener("dragleave", function () { zone.classList.remove("dragover"); });
      zone.addEventListener("drop", function (e) {
        e.preventDefault(); zone.classList.remove("dragover");
        if (input && e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (e) { enhance(e.target); });
})();
