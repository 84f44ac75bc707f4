// Render the \( ... \) and \[ ... \] spans that pymdownx.arithmatex (generic mode) leaves in the page.
function renderMath() {
  if (typeof renderMathInElement === "undefined") return;
  document.querySelectorAll(".arithmatex").forEach(function (el) {
    renderMathInElement(el, {
      delimiters: [
        {left: "\\(", right: "\\)", display: false},
        {left: "\\[", right: "\\]", display: true},
      ],
      throwOnError: false,
    });
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderMath);   // Material's instant navigation
} else {
  window.addEventListener("load", renderMath);
}
