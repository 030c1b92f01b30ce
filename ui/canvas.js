// flowbox workflow canvas: Vue Flow (ui/vendor/vueflow.js, built from ui/canvas-src/) as a NiceGUI component.
// Python owns the workflow; this file draws it and reports what the user does (see ui/canvas.py for the API).
import { markRaw } from "vue";
import { VueFlow, Handle, Background, Controls, BaseEdge, EdgeLabelRenderer, getBezierPath } from "vueflow";

const CSS = `
.fb-canvas { position: relative; width: 100%; height: 100%; min-height: 320px; background: #f4f4f7; outline: none; }
.fb-canvas > .vue-flow { position: absolute; inset: 0; width: auto; height: auto; }
.fb-canvas .vue-flow__node { padding: 0; border: none; background: transparent; box-shadow: none; width: auto; }
.fb-canvas .vue-flow__node.selected, .fb-canvas .vue-flow__node:focus { box-shadow: none; outline: none; }
.fb-node { position: relative; width: 200px; box-sizing: border-box; display: flex; align-items: center; gap: 10px;
  padding: 8px 12px 8px 8px; background: #fff; border: 2px solid #c8ccd6; border-radius: 12px;
  box-shadow: 0 1px 3px rgba(20, 24, 40, .10); font: 13px/1.25 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #2b2f3a; cursor: grab; transition: border-color .15s, box-shadow .15s; }
.fb-node.trigger { border-radius: 32px 12px 12px 32px; }
.fb-node.disabled { opacity: .55; border-style: dashed; }
.fb-node.disabled .fb-label { text-decoration: line-through; }
.fb-node.placeholder { border: 2px dashed #c62828; background: #fff4f4; }
.fb-node.placeholder .fb-sub { color: #b71c1c; font-weight: 500; white-space: normal; overflow-wrap: anywhere; }
.fb-node.placeholder .fb-icon { color: #c62828; }
.fb-node.st-running { border-color: #f5a524; box-shadow: 0 0 0 4px rgba(245, 165, 36, .25); }
.fb-node.st-success { border-color: #29a35a; }
.fb-node.st-error { border-color: #e5484d; box-shadow: 0 0 0 4px rgba(229, 72, 77, .18); }
.fb-node.st-waiting { border-color: #9aa0ae; border-style: dashed; }
.fb-node.selected { box-shadow: 0 0 0 4px rgba(107, 116, 255, .35); }
.fb-node.selected:not([class*="st-"]) { border-color: #6b74ff; }
.fb-icon { flex: none; width: 40px; height: 40px; border-radius: 10px; display: flex; align-items: center;
  justify-content: center; background: #eef0f6; color: #555c6e; }
.fb-icon .material-icons { font-size: 24px; }
.fb-node.g-trigger .fb-icon { background: #fff1e6; color: #e8701a; }
.fb-node.g-flow .fb-icon { background: #e8f1ff; color: #2f6fdb; }
.fb-node.g-transform .fb-icon { background: #f1ebff; color: #7a4fd6; }
.fb-node.g-integration .fb-icon { background: #e6f7f4; color: #138a72; }
.fb-text { min-width: 0; flex: 1; }
.fb-label { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.fb-sub { font-size: 11px; color: #7b8193; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.fb-badge { position: absolute; right: -10px; top: -10px; display: flex; align-items: center; gap: 2px;
  padding: 1px 6px 1px 3px; border-radius: 10px; font-size: 11px; font-weight: 600; color: #fff; background: #29a35a;
  box-shadow: 0 1px 2px rgba(0,0,0,.2); }
.fb-badge .material-icons { font-size: 14px; }
.fb-badge.st-running { background: #f5a524; }
.fb-badge.st-running .material-icons { animation: fb-spin 1s linear infinite; }
.fb-badge.st-error { background: #e5484d; }
.fb-badge.st-waiting { background: #7b8193; }
@keyframes fb-spin { to { transform: rotate(360deg); } }
.fb-notes { position: absolute; left: 8px; bottom: -9px; font-size: 14px; color: #7b8193; background: #fff;
  border-radius: 50%; }
.fb-canvas .vue-flow__handle { width: 12px; height: 12px; border: 2px solid #fff; background: #8b90a0; }
.fb-canvas .vue-flow__handle.fb-in { width: 8px; height: 18px; border-radius: 3px; left: -6px; }
.fb-canvas .vue-flow__handle.fb-out { right: -8px; }
.fb-canvas .vue-flow__handle.fb-out.fb-error-out { background: #e5484d; }
.fb-canvas .vue-flow__handle:hover, .fb-canvas .vue-flow__handle.connecting { background: #6b74ff; }
.fb-hlabel { position: absolute; font-size: 11px; line-height: 14px; color: #5b6172; white-space: nowrap;
  pointer-events: none; background: rgba(244, 244, 247, .85); padding: 0 3px; border-radius: 3px; }
.fb-hlabel.out { left: calc(100% + 10px); }
.fb-hlabel.in { right: calc(100% + 8px); }
.fb-hlabel.fb-error-out { color: #e5484d; }
.fb-sticky { box-sizing: border-box; width: 100%; height: 100%; padding: 10px 12px; border-radius: 8px;
  background: #fff5c2; border: 1px solid #e6d67a; color: #4a4320; font: 13px/1.4 system-ui, sans-serif;
  white-space: pre-wrap; overflow: hidden; box-shadow: 0 1px 3px rgba(20, 24, 40, .10); cursor: grab; }
.fb-sticky.selected { border-color: #6b74ff; box-shadow: 0 0 0 3px rgba(107, 116, 255, .22); }
.fb-edge-label { position: absolute; pointer-events: none; }
.fb-count { position: absolute; left: 0; bottom: 3px; transform: translateX(-50%); white-space: nowrap;
  font: 600 11px system-ui, sans-serif; color: #29a35a; background: rgba(244, 244, 247, .9); padding: 0 4px;
  border-radius: 4px; }
.fb-edge-del { position: absolute; left: 0; top: 0; transform: translate(-50%, -50%); pointer-events: all; border: 1px solid #c8ccd6; background: #fff; color: #5b6172; border-radius: 6px; width: 22px; height: 22px;
  cursor: pointer; display: flex; align-items: center; justify-content: center; padding: 0; }
.fb-edge-del:hover { color: #e5484d; border-color: #e5484d; }
.fb-edge-del .material-icons { font-size: 16px; }
.fb-canvas .vue-flow__connection-path { stroke: #6b74ff; stroke-width: 2; }
`;

if (!document.getElementById("fb-canvas-css")) {
  const style = document.createElement("style");
  style.id = "fb-canvas-css";
  style.textContent = CSS;
  document.head.appendChild(style);
}

// Icons arrive as Material Icons names (mapped from the catalog's lucide names in canvas.py, `material_icon`).
const iconOf = (name) => (name && /^[a-z0-9_]+$/.test(name) ? name : "widgets");
const STATUS_ICONS = { running: "sync", success: "check", error: "priority_high", waiting: "hourglass_empty" };

const handleIndex = (handleId) => {
  const m = /-(\d+)$/.exec(handleId || "");
  return m ? Number(m[1]) : 0;
};
const edgeKey = (e) => `${e.source}:${e.sourceHandle ?? 0}->${e.target}:${e.targetHandle ?? 0}`;
const isEditable = (el) =>
  !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) ||
    !!el.closest?.(".q-dialog, .q-menu, .cm-editor, [contenteditable=true]"));
const round = (v) => Math.round(v * 10) / 10;
const BACKWARD = 60;  // px: a target this far left of its source makes the edge a backward loop
const NODE_CLEARANCE = 80;  // px from a handle to below its node, for a loop's horizontal run

const FlowboxNode = {
  components: { Handle },
  inheritAttrs: false,
  props: ["id", "data", "selected"],
  inject: ["fbCanvas"],
  computed: {
    inputs() {
      const n = this.data.inputs;
      if (Array.isArray(n)) return n;
      const count = Number(n ?? 1);
      return Array.from({ length: count }, (_, i) => (count > 1 ? `input ${i + 1}` : ""));
    },
    outputs() {
      return Array.isArray(this.data.outputs) ? this.data.outputs : [""];
    },
    height() {
      return Math.max(60, 26 * Math.max(this.inputs.length, this.outputs.length) + 12);
    },
    state() {
      return (this.fbCanvas.states || {})[this.id] || null;
    },
    icon() {
      return iconOf(this.data.icon);
    },
    classes() {
      return [
        this.state ? `st-${this.state.status}` : "",
        this.data.group ? `g-${String(this.data.group).split("/")[0]}` : "",
        { selected: this.selected, disabled: !!this.data.disabled, trigger: !!this.data.trigger,
          placeholder: !!this.data.placeholder },
      ];
    },
  },
  methods: {
    top(i, n) {
      return `${Math.round((this.height * (i + 1)) / (n + 1))}px`;
    },
    labelTop(i, n) {
      return `${Math.round((this.height * (i + 1)) / (n + 1)) - 17}px`;
    },
    isError(label) {
      return label === "error";
    },
  },
  template: `
    <div class="fb-node" :class="classes" :style="{height: height + 'px'}" :title="data.notes || ''"
         :data-node="id">
      <template v-for="(label, i) in inputs" :key="'in' + i">
        <Handle type="target" position="left" :id="'in-' + i" class="fb-in" :style="{top: top(i, inputs.length)}" />
        <span v-if="label" class="fb-hlabel in" :style="{top: labelTop(i, inputs.length)}">{{ label }}</span>
      </template>
      <div class="fb-icon"><i class="material-icons">{{ icon }}</i></div>
      <div class="fb-text">
        <div class="fb-label">{{ data.label || id }}</div>
        <div class="fb-sub" v-if="data.subtitle">{{ data.subtitle }}</div>
      </div>
      <div v-if="state" class="fb-badge" :class="'st-' + state.status" :title="state.error || state.status">
        <i class="material-icons">{{ STATUS_ICONS[state.status] || 'circle' }}</i>
        <span v-if="state.items != null">{{ state.items }}</span>
      </div>
      <i v-if="data.notes" class="material-icons fb-notes">sticky_note_2</i>
      <template v-for="(label, i) in outputs" :key="'out' + i">
        <Handle type="source" position="right" :id="'out-' + i" class="fb-out"
                :class="{'fb-error-out': isError(label)}" :style="{top: top(i, outputs.length)}" />
        <span v-if="label" class="fb-hlabel out" :class="{'fb-error-out': isError(label)}"
              :style="{top: labelTop(i, outputs.length)}">{{ label }}</span>
      </template>
    </div>`,
  created() {
    this.STATUS_ICONS = STATUS_ICONS;
  },
};

const StickyNote = {
  inheritAttrs: false,
  props: ["id", "data", "selected"],
  template: `<div class="fb-sticky" :class="{selected}" :data-node="id"
                  :style="{width: (data.width || 240) + 'px', height: (data.height || 160) + 'px',
                           background: data.color || undefined}">{{ data.content ?? data.notes ?? '' }}</div>`,
};

const FlowboxEdge = {
  components: { BaseEdge, EdgeLabelRenderer },
  inheritAttrs: false,
  props: ["id", "source", "target", "sourceHandleId", "targetHandleId", "sourceX", "sourceY", "targetX", "targetY",
    "sourcePosition", "targetPosition", "markerEnd", "data", "selected"],
  inject: ["fbCanvas"],
  computed: {
    path() {
      // A backward edge (its target well left of its source, as in a loop) goes out right, around and back
      // in from the left: between the two nodes when they are far apart vertically, else under both. Any
      // other edge is a plain curve, however close the nodes (n8n's 220 px spacing leaves 20 px between ours).
      if (this.targetX < this.sourceX - BACKWARD) {
        const dx = 40;
        const dy = this.targetY - this.sourceY;
        const y = Math.abs(dy) > 2 * NODE_CLEARANCE ? this.sourceY + dy / 2
          : Math.max(this.sourceY, this.targetY) + NODE_CLEARANCE;
        const d = `M ${this.sourceX} ${this.sourceY} C ${this.sourceX + dx * 2} ${this.sourceY}, ${this.sourceX + dx * 2} ${y}, ${this.sourceX} ${y} ` +
          `L ${this.targetX} ${y} C ${this.targetX - dx * 2} ${y}, ${this.targetX - dx * 2} ${this.targetY}, ${this.targetX} ${this.targetY}`;
        return [d, (this.sourceX + this.targetX) / 2, y];
      }
      return getBezierPath({
        sourceX: this.sourceX, sourceY: this.sourceY, sourcePosition: this.sourcePosition,
        targetX: this.targetX, targetY: this.targetY, targetPosition: this.targetPosition,
      });
    },
    count() {
      const s = (this.fbCanvas.states || {})[this.source];
      if (!s) return null;
      const k = handleIndex(this.sourceHandleId);
      if (Array.isArray(s.outputs)) return s.outputs[k] ?? null;
      return k === 0 && s.items != null ? s.items : null;
    },
    edgeStyle() {
      const color = this.selected ? "#6b74ff" : this.count ? "#29a35a" : "#8b90a0";
      return { stroke: color, strokeWidth: this.selected ? 3 : 2 };
    },
    labelStyle() {
      return { transform: `translate(${this.path[1]}px, ${this.path[2]}px)` };
    },
  },
  template: `
    <BaseEdge :id="id" :path="path[0]" :marker-end="markerEnd" :style="edgeStyle" :interaction-width="20" />
    <EdgeLabelRenderer v-if="count != null || (selected && !fbCanvas.readonly)">
      <div class="fb-edge-label nodrag nopan" :style="labelStyle" :data-edge="id">
        <span v-if="count != null" class="fb-count">{{ count }} {{ count === 1 ? 'item' : 'items' }}</span>
        <button v-if="selected && !fbCanvas.readonly" class="fb-edge-del" title="Delete connection"
                @click.stop="fbCanvas.removeEdges([id])"><i class="material-icons">delete</i></button>
      </div>
    </EdgeLabelRenderer>`,
};

export default {
  components: { VueFlow, Background, Controls },
  props: {
    nodes: { type: Array, default: () => [] },
    edges: { type: Array, default: () => [] },
    states: { type: Object, default: () => ({}) },
    readonly: { type: Boolean, default: false },
    snap: { type: Number, default: 20 },
  },
  emits: ["node_moved", "connect", "nodes_removed", "edges_removed", "selection", "node_click", "node_dblclick",
    "pane_click", "drop", "copy", "paste", "undo", "redo", "run", "save", "ready"],
  provide() {
    return { fbCanvas: this };
  },
  data() {
    return {
      flowNodes: [],
      flowEdges: [],
      nodeTypes: { fbnode: markRaw(FlowboxNode), fbsticky: markRaw(StickyNote) },
      edgeTypes: { fbedge: markRaw(FlowboxEdge) },
      sized: false,  // Vue Flow is mounted once the canvas has a size (it measures its viewport on mount)
    };
  },
  template: `
    <div class="fb-canvas" tabindex="0" @dragover="onDragOver" @drop="onDrop" @mousemove="onMouseMove">
      <VueFlow v-if="sized" :nodes="flowNodes" :edges="flowEdges" :node-types="nodeTypes" :edge-types="edgeTypes"
               connection-mode="strict" :snap-to-grid="snap > 0" :snap-grid="[snap || 1, snap || 1]"
               :delete-key-code="null" :zoom-on-double-click="false" :min-zoom="0.1" :max-zoom="2.5"
               :pan-on-scroll="true" :zoom-on-pinch="true"
               :nodes-draggable="!readonly" :nodes-connectable="!readonly" :edges-updatable="false"
               :connection-radius="30" :is-valid-connection="isValidConnection" :elevate-edges-on-select="true"
               :default-edge-options="{type: 'fbedge', markerEnd: 'arrowclosed'}"
               @pane-ready="onPaneReady" @nodes-initialized="onNodesInitialized"
               @node-drag-start="onDragStart" @node-drag-stop="onDragStop" @connect="onConnect"
               @node-click="(e) => $emit('node_click', {id: e.node.id})"
               @node-double-click="(e) => $emit('node_dblclick', {id: e.node.id})"
               @pane-click="() => $emit('pane_click', {})"
               @error="(err) => console.warn('vue flow:', err.message)"
               @nodes-change="onSelectChange" @edges-change="onSelectChange">
        <Background variant="dots" :gap="20" :size="1.6" pattern-color="#b9bcc8" />
        <Controls :show-interactive="false" position="bottom-left" />
      </VueFlow>
    </div>`,
  created() {
    this.mountedAt = performance.now();
    this.flow = null;
    this.lastNodes = "";
    this.lastEdges = "";
    this.lastSelection = "";
    this.dragStart = {};
    this.mouse = null;
    this.didInit = false;
    this.syncNodes();
    this.syncEdges();
  },
  mounted() {
    const hasSize = () => this.$el.clientWidth > 0 && this.$el.clientHeight > 0;
    if (hasSize()) this.sized = true;
    else {
      this.sizer = new ResizeObserver(() => {
        if (!hasSize()) return;
        this.sized = true;
        this.sizer.disconnect();
      });
      this.sizer.observe(this.$el);
    }
    this.onKey = (e) => this.handleKey(e);
    this.onPaste = (e) => this.handlePaste(e);
    window.addEventListener("keydown", this.onKey, true);  // capture: before Vue Flow's node keys (Enter)
    document.addEventListener("paste", this.onPaste);
  },
  beforeUnmount() {
    this.sizer?.disconnect();
    window.removeEventListener("keydown", this.onKey, true);
    document.removeEventListener("paste", this.onPaste);
  },
  watch: {
    nodes() {
      this.syncNodes();
    },
    edges() {
      this.syncEdges();
    },
  },
  methods: {
    // ---- props -> Vue Flow -------------------------------------------------------------------------------
    syncNodes() {
      const json = JSON.stringify(this.nodes || []);
      if (json === this.lastNodes) return;
      this.lastNodes = json;
      const selected = new Set(this.selectedNodeIds());
      this.flowNodes = (this.nodes || []).map((n) => {
        const sticky = n.type === "stickyNote";
        const [x, y] = Array.isArray(n.position) ? n.position : [0, 0];
        return {
          id: String(n.id), type: sticky ? "fbsticky" : "fbnode", position: { x: x || 0, y: y || 0 }, data: n,
          selected: selected.has(String(n.id)), zIndex: sticky ? -1 : 0,
        };
      });
    },
    syncEdges() {
      const json = JSON.stringify(this.edges || []);
      if (json === this.lastEdges) return;
      this.lastEdges = json;
      const selected = new Set(this.flow ? this.flow.getSelectedEdges.value.map((e) => e.id) : []);
      this.flowEdges = (this.edges || []).map((e) => this.toFlowEdge(e, selected));
    },
    toFlowEdge(e, selected) {
      const id = edgeKey(e);
      return {
        id, type: "fbedge", source: String(e.source), target: String(e.target),
        sourceHandle: `out-${e.sourceHandle ?? 0}`, targetHandle: `in-${e.targetHandle ?? 0}`,
        markerEnd: "arrowclosed", selected: !!selected?.has(id),
      };
    },
    fromFlowEdge(e) {
      return { source: e.source, sourceHandle: handleIndex(e.sourceHandle), target: e.target,
        targetHandle: handleIndex(e.targetHandle) };
    },
    selectedNodeIds() {
      return this.flow ? this.flow.getSelectedNodes.value.map((n) => n.id) : [];
    },
    // ---- Vue Flow events -> Python -----------------------------------------------------------------------
    onPaneReady(instance) {
      this.flow = markRaw(instance);
      if (this.initPending) this.onNodesInitialized();
    },
    onNodesInitialized() {
      this.initPending = !this.flow;
      if (this.didInit || !this.flow) return;
      this.didInit = true;
      this.flow.fitView({ padding: 0.2, maxZoom: 1 });
      this.$emit("ready", { nodes: this.flowNodes.length, ms: round(performance.now() - this.mountedAt) });
    },
    onDragStart({ nodes }) {
      this.dragStart = Object.fromEntries(nodes.map((n) => [n.id, [n.position.x, n.position.y]]));
    },
    onDragStop({ nodes }) {
      const moved = nodes
        .map((n) => ({ id: n.id, position: [round(n.position.x), round(n.position.y)] }))
        .filter((n) => {
          const s = this.dragStart[n.id];
          return !s || s[0] !== n.position[0] || s[1] !== n.position[1];
        });
      this.dragStart = {};
      if (moved.length) {
        this.rememberPositions(moved);
        this.$emit("node_moved", { nodes: moved });
      }
    },
    rememberPositions(moved) {
      // keep `lastNodes` equal to what Python will hold, so its echo does not rebuild the graph
      const byId = Object.fromEntries(moved.map((m) => [m.id, m.position]));
      const nodes = JSON.parse(this.lastNodes || "[]").map((n) => (byId[n.id] ? { ...n, position: byId[n.id] } : n));
      this.lastNodes = JSON.stringify(nodes);
    },
    isValidConnection(c) {
      // Vue Flow also runs this on every edge it is given, so it must accept existing edges
      return c.source !== c.target;
    },
    onConnect(c) {
      const edge = this.fromFlowEdge(c);
      if (this.flowEdges.some((e) => e.id === edgeKey(edge))) return;
      this.flowEdges = [...this.flowEdges, this.toFlowEdge(edge)];
      this.lastEdges = JSON.stringify([...JSON.parse(this.lastEdges || "[]"), edge]);
      this.$emit("connect", edge);
    },
    onSelectChange(changes) {
      if (!changes.some((c) => c.type === "select" || c.type === "remove")) return;
      clearTimeout(this.selectTimer);
      this.selectTimer = setTimeout(() => this.emitSelection(), 0);
    },
    emitSelection(force = false) {
      if (!this.flow) return;
      const sel = {
        nodes: this.selectedNodeIds(),
        edges: this.flow.getSelectedEdges.value.map((e) => this.fromFlowEdge(e)),
      };
      const json = JSON.stringify(sel);
      if (json === this.lastSelection && !force) return;
      this.lastSelection = json;
      this.$emit("selection", sel);
    },
    // ---- removal ------------------------------------------------------------------------------------------
    deleteSelection() {
      if (!this.flow || this.readonly) return false;
      const nodeIds = this.selectedNodeIds();
      const edgeIds = this.flow.getSelectedEdges.value.map((e) => e.id);
      if (!nodeIds.length && !edgeIds.length) return false;
      if (nodeIds.length) this.removeNodes(nodeIds);
      if (edgeIds.length) this.removeEdges(edgeIds);
      return true;
    },
    removeNodes(ids) {
      const gone = new Set(ids);
      this.flowNodes = this.flowNodes.filter((n) => !gone.has(n.id));
      this.flowEdges = this.flowEdges.filter((e) => !gone.has(e.source) && !gone.has(e.target));
      this.lastNodes = JSON.stringify(JSON.parse(this.lastNodes || "[]").filter((n) => !gone.has(String(n.id))));
      this.lastEdges = JSON.stringify(JSON.parse(this.lastEdges || "[]")
        .filter((e) => !gone.has(String(e.source)) && !gone.has(String(e.target))));
      this.$emit("nodes_removed", { nodes: ids });
    },
    removeEdges(ids) {
      const gone = new Set(ids);
      const removed = this.flowEdges.filter((e) => gone.has(e.id)).map((e) => this.fromFlowEdge(e));
      if (!removed.length) return;
      this.flowEdges = this.flowEdges.filter((e) => !gone.has(e.id));
      this.lastEdges = JSON.stringify(JSON.parse(this.lastEdges || "[]").filter((e) => !gone.has(edgeKey(e))));
      this.$emit("edges_removed", { edges: removed });
    },
    // ---- palette drop ------------------------------------------------------------------------------------
    onDragOver(e) {
      if (this.readonly || !Array.from(e.dataTransfer?.types || []).includes("application/flowbox-node")) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    },
    onDrop(e) {
      const type = e.dataTransfer?.getData("application/flowbox-node");
      if (!type || this.readonly || !this.flow) return;
      e.preventDefault();
      const p = this.flow.screenToFlowCoordinate({ x: e.clientX, y: e.clientY });
      const snap = (v) => (this.snap > 0 ? Math.round(v / this.snap) * this.snap : round(v));
      this.$emit("drop", { type, position: [snap(p.x - 100), snap(p.y - 30)], point: [round(p.x), round(p.y)] });
    },
    onMouseMove(e) {
      this.mouse = { x: e.clientX, y: e.clientY };
    },
    // ---- keyboard and clipboard --------------------------------------------------------------------------
    visible() {
      return !!this.$el?.isConnected && this.$el.getClientRects().length > 0;
    },
    active(e) {
      return this.visible() && !isEditable(e.target);
    },
    handleKey(e) {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && (key === "s" || key === "enter") && this.visible() && !e.target?.closest?.(".q-dialog")) {
        // save and run work from anywhere in the editor, a field included (never the browser's "Save page"):
        // a field that reports its value on blur (a node's name) reports it first
        e.preventDefault();
        e.stopPropagation();
        const event = key === "s" ? "save" : "run";
        const field = document.activeElement;
        if (!isEditable(field) || field === document.body) {
          this.$emit(event, {});
          return;
        }
        field.blur();  // Quasar reports the blur from a timer of its own; this one runs after it
        setTimeout(() => {
          this.$emit(event, {});
          if (field.isConnected) field.focus();
        }, 0);
        return;
      }
      if (!this.active(e)) return;
      let done = true;
      if ((key === "delete" || key === "backspace") && !mod) done = this.deleteSelection();
      else if (mod && key === "c") done = this.emitCopy(false);
      else if (mod && key === "x") done = !this.readonly && this.emitCopy(true);
      else if (mod && key === "z" && !e.shiftKey) this.$emit("undo", {});
      else if (mod && ((key === "z" && e.shiftKey) || key === "y")) this.$emit("redo", {});
      else if (mod && key === "a") this.selectAll();
      else if (!mod && key === "1" && this.flow) this.fit_view();
      else done = false;
      if (done) {
        e.preventDefault();
        e.stopPropagation();
      }
    },
    emitCopy(cut) {
      const nodes = this.selectedNodeIds();
      if (!nodes.length || window.getSelection()?.toString()) return false;
      this.$emit("copy", { nodes, cut });
      if (cut) this.removeNodes(nodes);
      return true;
    },
    handlePaste(e) {
      if (!this.active(e) || this.readonly) return;
      const text = e.clipboardData?.getData("text/plain") || "";
      if (!text) return;
      e.preventDefault();
      this.$emit("paste", { text, position: this.pastePosition() });
    },
    pastePosition() {
      if (!this.flow) return [0, 0];
      const r = this.$el.getBoundingClientRect();
      const inside = this.mouse && this.mouse.x >= r.left && this.mouse.x <= r.right && this.mouse.y >= r.top &&
        this.mouse.y <= r.bottom;
      const screen = inside ? this.mouse : { x: r.left + r.width / 2, y: r.top + r.height / 2 };
      const p = this.flow.screenToFlowCoordinate(screen);
      return [round(p.x), round(p.y)];
    },
    selectAll() {
      if (!this.flow) return;
      this.flow.addSelectedNodes(this.flow.getNodes.value);
    },
    // ---- methods called from Python (run_method) ---------------------------------------------------------
    fit_view(padding = 0.2) {
      // after the current update has rendered and been measured (set_workflow(..., fit=True) sends both at once)
      this.$nextTick(() => requestAnimationFrame(() => requestAnimationFrame(() =>
        this.flow?.fitView({ padding, maxZoom: 1, duration: 200 }))));
    },
    select(names) {
      // on the next tick: a node added with the same update is in Vue Flow's list by then
      this.$nextTick(() => this.selectNow(names));
    },
    selectNow(names) {
      if (!this.flow) return;
      const want = new Set((names || []).map(String));
      this.flow.removeSelectedEdges(this.flow.getSelectedEdges.value);
      this.flow.removeSelectedNodes(this.flow.getSelectedNodes.value.filter((n) => !want.has(n.id)));
      this.flow.addSelectedNodes(this.flow.getNodes.value.filter((n) => want.has(n.id)));
    },
    center_on(name, zoom = 1) {
      const n = this.flow?.findNode(String(name));
      if (!n) return;
      const w = n.dimensions?.width || 200;
      const h = n.dimensions?.height || 60;
      this.flow.setCenter(n.position.x + w / 2, n.position.y + h / 2, { zoom, duration: 200 });
    },
    async write_clipboard(text) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (err) {
        const area = document.createElement("textarea");
        area.value = text;
        area.style.position = "fixed";
        area.style.opacity = "0";
        document.body.appendChild(area);
        area.select();
        const ok = document.execCommand("copy");
        area.remove();
        return ok;
      }
    },
    viewport() {
      return this.flow ? this.flow.getViewport() : null;
    },
  },
};
