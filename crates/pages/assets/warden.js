// Progressive touches only: every form works without this file.
// - a Show/Hide button on password fields;
// - focus on the error summary after a failed post;
// - one submission per click (the button is disabled while posting).
(function () {
  "use strict";
  var words = document.body.dataset;
  var summary = document.querySelector("[data-summary]");
  if (summary) summary.focus();
  document.querySelectorAll("input[data-reveal]").forEach(function (input) {
    var wrap = document.createElement("div");
    wrap.className = "reveal";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = words.show;
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", function () {
      var shown = input.type === "text";
      input.type = shown ? "password" : "text";
      button.textContent = shown ? words.show : words.hide;
      button.setAttribute("aria-pressed", shown ? "false" : "true");
    });
    wrap.appendChild(button);
  });
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) setTimeout(function () { button.disabled = true; }, 0);
    });
  });
})();
