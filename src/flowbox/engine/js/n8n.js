// n8n's expression API inside flowbox's QuickJS sandbox (flowbox.engine.javascript runs this once per context,
// after intl.js, luxon.min.js, jmespath.min.js and extensions.js).
//
// Python talks to the context through `__n8n` only: `begin(meta)` starts a node run (its $-names), `compile`
// turns a parameter's JS source into a function, `run(fn, json, binary, index)` evaluates it for one item and
// returns "s<text>", "j<JSON>", a number, a boolean or null — or "n<key>" when the expression needs data it
// does not have yet (another node's items, the paired items, a time zone): Python `put`s it and runs again.
// Everything reachable from the global object is frozen at the end, so nothing an expression does outlives it.
(function () {
  "use strict";
  const G = globalThis;
  const FunctionCtor = Function;
  const intl = G.__flowboxIntl;
  delete G.__flowboxIntl;
  const { DateTime, Duration, Interval, Settings } = G.luxon;
  const jmespath = G.jmespath;
  const MAX_TEXT = 10000000;
  const BATCH_TEXT = 4000000; // results of one runBatch call, in characters
  const parseJSON = JSON.parse; // flowbox's own parsing of items and results: not the timed built-in below
  const stringifyJSON = JSON.stringify;

  // ---------------------------------------------------------------- state of the node run being evaluated
  let meta = { nodes: [], parameter: {}, vars: {}, execution: {}, workflow: {}, prevNode: {}, timezone: "UTC" };
  let store = new Map(); // data fetched from Python for this node run: "input", "node:<name>", ...
  const cur = { text: "{}", json: undefined, bin: "", binary: undefined, index: 0 };
  let pending = null;
  let failed = -1;
  let zoneSet = null;
  let refs = new Map();
  let nowCache = null;
  let budgetMs = 500;

  class NeedData extends Error {}

  function need(key) {
    if (store.has(key)) return store.get(key);
    if (pending === null) pending = key;
    throw new NeedData(key);
  }
  intl.hooks.need = (key) => {
    if (pending === null) pending = key;
    throw new NeedData(key);
  };

  function fail(message) {
    throw new Error(message);
  }

  function freezeDeep(value) {
    if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
      Object.freeze(value);
      for (const key of Object.keys(value)) freezeDeep(value[key]);
    }
    return value;
  }

  // ---------------------------------------------------------------- $json, $input, $("Node"), ...
  function currentJson() {
    if (cur.json === undefined) cur.json = parseJSON(cur.text);
    return cur.json;
  }
  function currentBinary() {
    if (cur.binary === undefined) cur.binary = cur.bin ? parseJSON(cur.bin) : {};
    return cur.binary;
  }
  function currentItem() {
    return { json: currentJson(), binary: currentBinary() };
  }
  function inputItems() {
    return need("input");
  }

  class NodeRef {
    constructor(name) { this.name = name; }
    data() {
      const found = need("node:" + this.name);
      if (!found) fail(`node '${this.name}' has not run yet in this execution`);
      return found;
    }
    all(branch = 0, run) {
      const data = this.data();
      const outputs = run === undefined || run === -1 || run === data.runs - 1 ? data.outputs
        : need(`run:${this.name}:${run}`);
      return outputs && branch < outputs.length ? outputs[branch].slice() : [];
    }
    first(branch = 0, run) {
      const items = this.all(branch, run);
      return items.length ? items[0] : undefined;
    }
    last(branch = 0, run) {
      const items = this.all(branch, run);
      return items.length ? items[items.length - 1] : undefined;
    }
    get item() { return this.pairedItem(cur.index); }
    pairedItem(index = cur.index) {
      this.data();
      const paired = need("paired:" + this.name);
      const found = paired[index];
      if (!found) {
        fail(`no item of node '${this.name}' is paired with item ${index} ` +
          `(use $("${this.name}").first() or .all() instead)`);
      }
      return found;
    }
    itemMatching(index) { return this.pairedItem(index); }
    get json() { const first = this.first(); return first ? first.json : {}; }
    get binary() { const first = this.first(); return first ? first.binary || {} : {}; }
    get isExecuted() { return Boolean(need("node:" + this.name)); }
    get runIndex() { const data = need("node:" + this.name); return data ? data.runs - 1 : -1; }
    get params() { return need("params:" + this.name); }
    get context() { return need("context:" + this.name) || {}; } // what the node keeps (Split in Batches v1/v2)
  }

  function nodeRef(name) {
    name = String(name);
    if (!meta.nodes.includes(name)) fail(`there is no node named '${name}' in this workflow`);
    let ref = refs.get(name);
    if (!ref) refs.set(name, (ref = new NodeRef(name)));
    return ref;
  }

  const input = Object.freeze({
    get item() { return currentItem(); },
    all() { return inputItems().slice(); },
    first() { const items = inputItems(); return items.length ? items[0] : undefined; },
    last() { const items = inputItems(); return items.length ? items[items.length - 1] : undefined; },
    get params() { return meta.parameter; },
    get context() { return { noItemsLeft: false }; },
  });

  const nodeLookup = new Proxy({}, {
    get(target, key) { return typeof key === "symbol" ? undefined : nodeRef(key); },
    has(target, key) { return typeof key === "string" && meta.nodes.includes(key); },
  });

  const envDisabled = new Proxy({}, {
    get(target, key) {
      if (typeof key === "symbol") return undefined;
      return fail("$env is disabled; set FLOWBOX_ALLOW_ENV_IN_EXPRESSIONS=1 to allow it");
    },
  });

  function isEmptyValue(value) {
    if (value === undefined || value === null || value === "") return true;
    if (Array.isArray(value)) return value.length === 0;
    if (typeof value === "object" && !(value instanceof Date) && !DateTime.isDateTime(value)) {
      return Object.keys(value).length === 0;
    }
    return false;
  }

  function now() {
    if (nowCache === null) nowCache = DateTime.fromMillis(meta.nowMs, { zone: meta.timezone });
    return nowCache;
  }

  const globals = {
    $json: () => currentJson(),
    $binary: () => currentBinary(),
    $input: () => input,
    $itemIndex: () => cur.index,
    $runIndex: () => meta.runIndex,
    $node: () => nodeLookup,
    $prevNode: () => meta.prevNode,
    $parameter: () => meta.parameter,
    $vars: () => meta.vars,
    $env: () => (meta.env ? meta.env : envDisabled),
    $execution: () => meta.execution,
    $workflow: () => meta.workflow,
    $now: () => now(),
    $today: () => now().startOf("day"),
    $position: () => cur.index,
    $thisItemIndex: () => cur.index,
    $mode: () => meta.execution.mode,
  };
  for (const [name, getter] of Object.entries(globals)) {
    Object.defineProperty(G, name, { get: getter, enumerable: false, configurable: false });
  }
  const functions = {
    $: (name) => nodeRef(name),
    $items(name, output = 0, run) {
      if (name === undefined) return inputItems().slice();
      return nodeRef(name).all(output, run);
    },
    $item(index) {
      return { $json: () => (index === cur.index ? currentJson() : inputItems()[index].json) };
    },
    $jmespath: (data, expression) => jmespath.search(data, expression),
    $ifEmpty: (value, fallback) => (isEmptyValue(value) ? fallback : value),
    $if(condition, whenTrue, whenFalse) {
      if (arguments.length < 2) fail("$if() needs a condition and a value (and a value for false)");
      return condition ? whenTrue : whenFalse;
    },
    $min: (...numbers) => Math.min(...numbers),
    $max: (...numbers) => Math.max(...numbers),
    $evaluateExpression: (expression) => evaluateText(String(expression)),
    DateTime, Duration, Interval,
  };
  for (const [name, fn] of Object.entries(functions)) {
    Object.defineProperty(G, name, { value: fn, enumerable: false, writable: false, configurable: false });
  }

  // ---------------------------------------------------------------- templates and results
  function textOf(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    if (DateTime.isDateTime(value)) return value.toISO();
    if (value instanceof Date) return value.toISOString();
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function segment(index, fn) {
    try {
      return fn();
    } catch (exc) {
      if (failed < 0) failed = index;
      throw exc;
    }
  }

  const compiled = new Map();
  function compileSource(source) {
    if (/\bimport\s*\(/.test(source)) fail("import() is not allowed in expressions");
    return new FunctionCtor("__seg", "__text", `return (${source}\n)`);
  }

  function evaluateText(text) {
    const template = text.startsWith("=") ? text.slice(1) : text;
    const parts = [];
    let pos = 0;
    while (true) {
      const start = template.indexOf("{{", pos);
      if (start < 0) break;
      let end = template.indexOf("}}", start + 2);
      if (end < 0) break;
      let fn = null;
      while (end >= 0) {
        const source = template.slice(start + 2, end);
        try { fn = compileSource(source.trim() || "undefined"); break; } catch (exc) {
          end = template.indexOf("}}", end + 1);
          if (end < 0) throw exc;
        }
      }
      if (start > pos) parts.push(template.slice(pos, start));
      parts.push(fn);
      pos = end + 2;
    }
    if (pos < template.length) parts.push(template.slice(pos));
    if (parts.length === 1 && typeof parts[0] === "function") return parts[0](segment, textOf);
    return parts.map((p) => (typeof p === "function" ? textOf(p(segment, textOf)) : p)).join("");
  }

  // QuickJS keeps a long concatenation as a rope, which its Python binding cannot hand over ("Unknown quickjs
  // tag: -6"); join() builds the text flat
  const tagged = (tag, text) => [tag, text].join("");
  function result(value) {
    if (value === undefined || value === null) return null;
    switch (typeof value) {
      case "number":
      case "boolean":
        return value;
      case "string":
        if (value.length > MAX_TEXT) fail(`result too large (${value.length} > ${MAX_TEXT} characters)`);
        return tagged("s", value);
      case "bigint":
        return tagged("s", String(value));
      case "function":
        return fail("the expression gives a function, not a value (call it?)");
      case "symbol":
        return fail("the expression gives a symbol, not a value");
      default:
    }
    if (value instanceof Promise) fail("the expression gives a Promise: expressions cannot wait (no async, no import())");
    if (DateTime.isDateTime(value)) return tagged("s", value.toISO());
    if (value instanceof Date) return tagged("s", value.toISOString());
    const text = stringifyJSON(value);
    if (text === undefined) return null;
    if (text.length > MAX_TEXT) fail(`result too large (${text.length} > ${MAX_TEXT} characters of JSON)`);
    return tagged("j", text);
  }

  G.__n8n = Object.freeze({
    begin(metaText) {
      deadline = Infinity;
      meta = parseJSON(metaText);
      budgetMs = meta.timeoutMs || 500;
      if (meta.env) freezeDeep(meta.env);
      freezeDeep(meta);
      store = new Map();
      refs = new Map();
      nowCache = null;
    },
    put(key, text) {
      deadline = Infinity;
      if (key.startsWith("zone:")) {
        intl.addZone(key.slice(5), parseJSON(text));
        Settings.resetCaches();
        zoneSet = null;
        return;
      }
      store.set(key, freezeDeep(parseJSON(text)));
    },
    check(source) {
      deadline = Infinity; // an uncatchable interrupt skips run()'s finally
      compileSource(source);
      return true;
    },
    compile(body) {
      deadline = Infinity;
      let fn = compiled.get(body);
      if (!fn) {
        fn = new FunctionCtor("__seg", "__text", body);
        if (compiled.size > 5000) compiled.clear();
        compiled.set(body, fn);
      }
      return fn;
    },
    run(fn, text, bin, index) {
      cur.text = text;
      cur.json = undefined;
      cur.bin = bin;
      cur.binary = undefined;
      cur.index = index;
      pending = null;
      failed = -1;
      deadline = Date.now() + budgetMs;
      if (zoneSet !== meta.timezone) {
        if (!intl.knowsZone(meta.timezone)) return "nzone:" + meta.timezone;
        Settings.defaultZone = meta.timezone;
        zoneSet = meta.timezone;
      }
      try {
        let value;
        try {
          value = fn(segment, textOf);
        } catch (exc) {
          if (pending !== null) return tagged("n", pending);
          throw exc;
        }
        if (pending !== null) return tagged("n", pending);
        return result(value);
      } finally {
        deadline = Infinity; // compiling, checking and handing data over between runs are not timed here
      }
    },
    failed: () => { deadline = Infinity; return failed; },
    // Items start..start+n-1 of one function in one call (their json texts joined by newlines, which JSON text
    // never holds raw): a JSON list of what run() gives for each, an error as {e, s} (message, segment), a
    // non-finite number as {x}; {f: key} when an item asks for data first (handed over, then run again). Stops
    // early past BATCH_TEXT characters of results.
    runBatch(fn, texts, bins, start) {
      const T = texts.split("\n");
      const B = bins ? bins.split("\n") : null;
      const out = [];
      let size = 0;
      for (let k = 0; k < T.length; k++) {
        let r;
        try {
          r = G.__n8n.run(fn, T[k], B ? B[k] : "", start + k);
        } catch (exc) {
          out.push({ e: String(exc), s: failed });
          continue;
        }
        if (typeof r === "string") {
          if (r[0] === "n") return JSON.stringify({ f: r.slice(1) });
          size += r.length;
        } else if (typeof r === "number" && !Number.isFinite(r)) {
          r = { x: String(r) };
        }
        out.push(r);
        if (size > BATCH_TEXT) break;
      }
      deadline = Infinity;
      return JSON.stringify({ r: out });
    },
  });

  // ---------------------------------------------------------------- time checks inside long built-ins
  // QuickJS looks at its time limit once per ~10,000 bytecode operations, so a loop over a costly built-in
  // ('x'.repeat(1e6) in a while loop: ~1 ms an operation) would run for tens of seconds past it. Every built-in
  // whose cost grows with its input checks the deadline first, and the ones that build text are capped.
  let deadline = Infinity;
  const OUT_OF_TIME = new Error("expression ran out of time"); // one object: throwing it in a loop stays cheap
  function checkTime() {
    if (Date.now() > deadline) throw OUT_OF_TIME;
  }
  function timed(owner, names, cap) {
    for (const name of names) {
      const original = owner[name];
      if (typeof original !== "function") continue;
      const wrapped = {
        [name](a, b) { // two arguments without the rest-array cost (QuickJS); more through Reflect.apply
          checkTime();
          if (cap) cap(this, arguments);
          switch (arguments.length) {
            case 0: return original.call(this);
            case 1: return original.call(this, a);
            case 2: return original.call(this, a, b);
            default: return Reflect.apply(original, this, arguments);
          }
        },
      }[name];
      Object.defineProperty(owner, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
    }
  }
  const capText = (length) => {
    if (!(length <= MAX_TEXT)) fail(`result too large (${length} > ${MAX_TEXT} characters)`);
  };
  timed(String.prototype, ["repeat"], (self, args) => capText(String(self).length * Math.max(0, args[0] | 0)));
  timed(String.prototype, ["padStart", "padEnd"], (self, args) => capText(Number(args[0]) || 0));
  timed(String.prototype, ["split", "replace", "replaceAll", "concat", "normalize", "toUpperCase", "toLowerCase",
    "toLocaleUpperCase", "toLocaleLowerCase", "indexOf", "lastIndexOf", "includes", "slice", "substring",
    "substr", "trim", "trimStart", "trimEnd", "match", "matchAll", "search", "localeCompare"]);
  timed(Array.prototype, ["join", "fill", "slice", "concat", "indexOf", "lastIndexOf", "includes", "reverse",
    "sort", "flat", "splice", "copyWithin", "toSorted", "toReversed", "toSpliced", "with"]);
  timed(Array, ["from", "of"]);
  timed(JSON, ["stringify", "parse"]);
  timed(Object, ["keys", "values", "entries", "assign", "fromEntries", "getOwnPropertyNames"]);
  timed(RegExp.prototype, ["exec", "test"]);

  // ---------------------------------------------------------------- hardening
  const blocked = (what) => function () { fail(`${what} is not allowed in expressions`); };
  const FunctionBlocked = blocked("the Function constructor");
  FunctionBlocked.prototype = Function.prototype;
  for (const proto of [Function.prototype, Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(function* () {}), Object.getPrototypeOf(async function* () {})]) {
    Object.defineProperty(proto, "constructor", { value: FunctionBlocked, writable: false, configurable: false });
  }
  Object.defineProperty(G, "Function", { value: FunctionBlocked, writable: false, configurable: false });
  Object.defineProperty(G, "eval", { value: blocked("eval"), writable: false, configurable: false });


  const seen = new Set();
  const todo = [G];
  while (todo.length) {
    const value = todo.pop();
    if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) continue;
    seen.add(value);
    if (value === G.__n8n) continue;
    for (const key of Reflect.ownKeys(value)) {
      const desc = Object.getOwnPropertyDescriptor(value, key);
      if (!desc) continue;
      if ("value" in desc) todo.push(desc.value);
      if (desc.get) todo.push(desc.get);
      if (desc.set) todo.push(desc.set);
    }
    todo.push(Object.getPrototypeOf(value));
    Object.freeze(value);
  }
})();
