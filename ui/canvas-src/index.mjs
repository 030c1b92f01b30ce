// The one entry point of ui/vendor/vueflow.js: Vue Flow core + background + controls, CSS injected on import.
// (No @vue-flow/minimap: its dist inlines its own d3 copy, +20 KB gzipped.)
import coreCss from "@vue-flow/core/dist/style.css";
import themeCss from "@vue-flow/core/dist/theme-default.css";
import controlsCss from "@vue-flow/controls/dist/style.css";

if (typeof document !== "undefined" && !document.getElementById("vueflow-css")) {
  const style = document.createElement("style");
  style.id = "vueflow-css";
  style.textContent = [coreCss, themeCss, controlsCss].join("\n");
  document.head.appendChild(style);
}

export { VueFlow, Handle, Position, MarkerType, useVueFlow, getBezierPath, BaseEdge, EdgeLabelRenderer } from "@vue-flow/core";
export { Background } from "@vue-flow/background";
export { Controls, ControlButton } from "@vue-flow/controls";
