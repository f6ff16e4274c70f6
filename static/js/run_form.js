// The run form's Run type: only the chosen type's own fields show (Recurring: the schedule;
// One-off has none), and the submit button says what will happen. Without this script every field shows and
// the server checks only the chosen type's fields. The radios sit in a part that htmx redraws
// when the pipeline or version changes, so the listener is on the document.
(function () {
  "use strict";

  function chosenType() {
    var checked = document.querySelector('input[name="run_type"]:checked');
    return checked ? checked.value : "one_off";
  }

  function sync() {
    var type = chosenType();
    document.querySelectorAll("[data-run-type-section]").forEach(function (section) {
      section.hidden = section.getAttribute("data-run-type-section") !== type;
    });
    document.querySelectorAll("[data-run-submit-label]").forEach(function (label) {
      var text = label.getAttribute("data-label-" + type);
      if (text) label.textContent = text;
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.name === "run_type") sync();
  });
  document.addEventListener("htmx:afterSwap", sync);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", sync);
  } else {
    sync();
  }
})();
