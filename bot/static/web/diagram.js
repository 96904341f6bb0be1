// Draws the postmortem's Mermaid phase diagram (<pre class="mermaid">) with the vendored
// Mermaid script, in its strict security level (no HTML labels, no scripts in the diagram).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  if (typeof mermaid === "undefined") {
    return;
  }
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  mermaid.run({ querySelector: "pre.mermaid" }).then(
    () => { document.body.dataset.diagram = "drawn"; },
    (e) => { document.body.dataset.diagram = "failed"; console.error("diagram:", e); },
  );
});
