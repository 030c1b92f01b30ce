// The JavaScript Code node's names and n8n's output rules, inside a QuickJS context of a code worker
// (flowbox.engine.codejs evaluates this after intl.js, luxon.min.js, jmespath.min.js and extensions.js).
// Python calls `__code.start(requestJSON)`, drains the job queue and runs the timers (`__code.nextTimer()`,
// `__code.fireTimer()`) until none is left or the code finished, then reads `__code.outcome()` (JSON).
(function () {
  "use strict";
  const G = globalThis;
  const intl = G.__flowboxIntl;
  delete G.__flowboxIntl;
  const { DateTime, Duration, Interval, Settings } = G.luxon;
  const jmespath = G.jmespath;
  const MAX_LOG = 65536;
  const RESERVED = new Set(["json", "binary", "pairedItem", "error", "metadata", "index"]);
  let req = null;
  let rows = [];
  const cur = { index: undefined, item: undefined };
  let logs = [];
  let logSize = 0;
  let outcome = null;
  let lineOffset = 0; // lines the async wrapper adds before the user's code
  let now = null; // $now: one moment per request (Luxon objects are immutable)

  class CodeError extends Error {
    constructor(message, index, description) {
      super(index === undefined ? message : `${message} [item ${index}]`);
      this.itemIndex = index;
      this.description = description || "";
      this.validation = true;
    }
  }
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

  function show(value) {
    if (typeof value === "string") return value;
    if (value instanceof Error) return String(value);
    if (DateTime.isDateTime(value)) return value.toISO();
    try {
      const text = JSON.stringify(value);
      return text === undefined ? String(value) : text;
    } catch (exc) {
      return String(value);
    }
  }
  function log(...args) {
    const line = args.map(show).join(" ") + "\n";
    if (logSize < MAX_LOG) logs.push(line.slice(0, MAX_LOG - logSize));
    logSize += line.length;
  }
  const console = Object.freeze({ log, info: log, warn: log, error: log, debug: log });

  // ---------------------------------------------------------------- $input, $("Node"), $node, $items
  function wrap(list) {
    return list.map((json, i) => ({ json, pairedItem: { item: i } }));
  }
  function nodeData(name) {
    const data = req.nodes[name];
    if (data) return data;
    if (!req.nodeNames.includes(name)) throw new Error(`Referenced node doesn't exist: '${name}'`);
    if (!req.executed.includes(name)) throw new Error(`Referenced node is unexecuted: '${name}' has no output in this execution`);
    throw new Error(`the Code node receives the data of the nodes its code names literally, as $('${name}'), $node['${name}'] or $items('${name}')`);
  }
  function proxyOf(name) {
    const all = () => wrap(nodeData(name).rows);
    return Object.freeze({
      all, first: () => all()[0], last: () => all().slice(-1)[0],
      get item() {
        if (cur.index === undefined) throw new Error(`$('${name}').item is only available in 'Run Once for Each Item' mode; use .first() or .all()`);
        const data = nodeData(name);
        const j = data.paired ? data.paired[cur.index] : cur.index;
        if (j === null || j === undefined) throw new Error(`no item of '${name}' is paired with input item ${cur.index}`);
        return wrap(data.rows)[j];
      },
      itemMatching(i) { const data = nodeData(name); const j = data.paired ? data.paired[i] : i; return wrap(data.rows)[j]; },
      get isExecuted() { return req.executed.includes(name); },
    });
  }
  const input = Object.freeze({
    all: () => wrap(rows), first: () => wrap(rows)[0], last: () => wrap(rows).slice(-1)[0],
    get item() {
      if (cur.index === undefined) throw new Error("$input.item is only available in 'Run Once for Each Item' mode; use $input.all() or $input.first()");
      return cur.item;
    },
  });
  const perItem = (name, get) => () => {
    if (cur.index === undefined) throw new Error(`${name} is only available in 'Run Once for Each Item' mode`);
    return get();
  };
  const names = {
    $input: () => input,
    items: () => { if (cur.index !== undefined) throw new Error("items is only available in 'Run Once for All Items' mode; use item or $input.item"); return cur.all; },
    item: perItem("item", () => cur.item),
    $json: perItem("$json", () => cur.item.json),
    $itemIndex: () => cur.index === undefined ? 0 : cur.index,
    $runIndex: () => req.runIndex || 0,
    $node: () => new Proxy({}, { get: (t, key) => {
      if (typeof key !== "string") return undefined;
      const p = proxyOf(key);
      const it = cur.index !== undefined && nodeData(key).paired ? p.item : p.first();
      return it ? { json: it.json, parameter: {}, runIndex: 0 } : undefined;
    } }),
    $now: () => now || (now = DateTime.fromISO(req.now).setZone(req.timezone || "UTC")),
    $today: () => names.$now().startOf("day"),
    $vars: () => req.vars,
    $execution: () => req.execution,
    $workflow: () => req.workflow,
  };
  for (const [name, get] of Object.entries(names)) Object.defineProperty(G, name, { get, configurable: false });
  // ---------------------------------------------------------------- timers: Python sleeps, then fires the earliest
  let timers = [];
  let timerSeq = 0;
  let clock = 0; // ms since the request started, as far as the timers have got
  function addTimer(fn, ms, args, repeat) {
    if (typeof fn !== "function") throw new TypeError("the callback must be a function");
    const delay = Math.max(0, Number(ms) || 0);
    const timer = { id: ++timerSeq, at: clock + delay, fn, args, every: repeat ? Math.max(1, delay) : 0 };
    timers.push(timer);
    return timer.id;
  }
  const clearTimer = (id) => { timers = timers.filter((t) => t.id !== id); };
  const earliest = () => timers.reduce((a, b) => (b.at < a.at ? b : a));
  const values = {
    setTimeout: (fn, ms, ...args) => addTimer(fn, ms, args, false),
    setInterval: (fn, ms, ...args) => addTimer(fn, ms, args, true),
    setImmediate: (fn, ...args) => addTimer(fn, 0, args, false),
    clearTimeout: clearTimer, clearInterval: clearTimer, clearImmediate: clearTimer,
    $: (name) => proxyOf(String(name)),
    $items: (name, output = 0) => (name === undefined ? wrap(rows) : proxyOf(String(name)).all()),
    $jmespath: (data, query) => jmespath.search(data, query),
    DateTime, Duration, Interval, console,
  };
  for (const [name, value] of Object.entries(values)) Object.defineProperty(G, name, { value, writable: false, configurable: false });
  for (const name of ["require", "process", "fetch"]) {
    Object.defineProperty(G, name, { get() { throw new Error(`${name} is not available in the Code node's sandbox`); }, configurable: false });
  }
  const FunctionCtor = Object.getPrototypeOf(function () {}).constructor;

  // ---------------------------------------------------------------- n8n's output rules
  function checkKeys(item, index) {
    const keys = Object.keys(item);
    const reserved = keys.find((k) => RESERVED.has(k));
    const unknown = keys.filter((k) => !RESERVED.has(k));
    if (!unknown.length) return;
    if (reserved) throw new CodeError("Invalid output format", index, `An output item contains the reserved key '${reserved}' next to other keys (${unknown[0]}): put your fields under 'json'`);
    throw new CodeError(`Unknown top-level item key: ${unknown[0]}`, index, "Access the properties of an item under `.json`, e.g. `item.json`");
  }
  function normalize(list) {
    if (list.every((v) => typeof v === "object" && v !== null && "json" in v)) return list;
    if (list.some((v) => typeof v === "object" && v !== null && "json" in v)) throw new CodeError("Inconsistent item format", undefined, "Either every returned item has a 'json' key or none has");
    return list.map((json) => ({ json }));
  }
  function checkItem(item, index) {
    if (!isObject(item.json)) throw new CodeError("A 'json' property isn't an object", index, "In the returned data, every key named 'json' must point to an object.");
    if (item.binary !== undefined && !isObject(item.binary)) throw new CodeError("A 'binary' property isn't an object", index, "In the returned data, every key named 'binary' must point to an object.");
  }
  function outItem(item, pairedItem) {
    const out = { json: item.json };
    if (item.binary) out.binary = item.binary;
    out.pairedItem = item.pairedItem !== undefined ? item.pairedItem : pairedItem;
    return out;
  }
  function allItems(result) {
    const improper = () => new CodeError("Code doesn't return items properly", undefined, "Please return an array of objects, one for each item you would like to output.");
    if (result === null || typeof result !== "object") throw improper();
    let list = result;
    if (Array.isArray(result)) {
      if (!result.every(isObject)) throw improper();
      if (result.some((v) => Object.keys(v).some((k) => RESERVED.has(k)))) result.forEach(checkKeys);
    } else {
      list = ["json", "binary"].some((k) => k in result) ? [result] : [{ json: result }];
    }
    list = normalize(list);
    list.forEach((item, i) => checkItem(item, i));
    return list.map((item) => outItem(item, undefined));
  }
  function eachItem(result, index) {
    if (typeof result !== "object") throw new CodeError("Code doesn't return an object", index, `Please return an object representing the output item. ('${result}' was returned instead.)`);
    if (Array.isArray(result)) {
      const first = result.length ? `An array of ${typeof result[0]}s was returned.` : "An empty array was returned.";
      throw new CodeError("Code doesn't return a single object", index, `${first} If you need to output multiple items, please use the 'Run Once for All Items' mode instead.`);
    }
    const [item] = normalize([result]);
    checkItem(item, index);
    checkKeys(item, index);
    return outItem(item, index);
  }
  function errorInfo(exc, index) {
    if (exc && exc.validation) return { kind: "result", message: exc.message, description: exc.description, itemIndex: exc.itemIndex };
    const name = exc && exc.name ? exc.name : "Error";
    const message = exc && exc.message !== undefined ? String(exc.message) : String(exc);
    // the user's code is the body of the Function constructor's "anonymous" (2 lines of its own before the
    // body, 1 more for the async wrapper); after an await that frame is gone and the line stays unknown
    const match = /at anonymous \(<input>:(\d+)/.exec((exc && exc.stack) || "");
    const line = match ? Number(match[1]) - (lineOffset + 2) : 0;
    return { kind: "runtime", type: name, message, line: line > 0 ? line : null,
             traceback: (exc && exc.stack) || "", itemIndex: index };
  }

  // ---------------------------------------------------------------- one request
  async function runAll(fn) {
    cur.index = undefined;
    cur.all = wrap(rows);
    let value = fn();
    if (value && typeof value.then === "function") value = await value;
    return allItems(value);
  }
  async function runEach(fn, itemErrors) {
    const out = [];
    const all = wrap(rows);
    for (let i = 0; i < all.length; i++) {
      cur.index = i;
      cur.item = all[i];
      try {
        let value = fn();
        if (value && typeof value.then === "function") value = await value;
        if (value === undefined || value === null) continue;
        out.push(eachItem(value, i));
      } catch (exc) {
        if (!itemErrors || (exc instanceof Error && /out of memory|interrupted/.test(exc.message))) throw Object.assign(exc instanceof Object ? exc : new Error(String(exc)), { itemIndex: i });
        out.push({ error: errorInfo(exc, i), pairedItem: i });
      }
    }
    return out;
  }
  G.__code = Object.freeze({
    start(text) {
      req = JSON.parse(text);
      timers = [];
      clock = 0;
      rows = req.items;
      req.nodes = req.nodes || {};
      req.nodeNames = req.nodeNames || [];
      req.executed = req.executed || [];
      if (req.zone) { intl.addZone(req.timezone, req.zone); Settings.resetCaches(); }
      if (req.timezone && (req.zone || req.timezone === "UTC")) Settings.defaultZone = req.timezone;
      for (const key of ["vars", "execution", "workflow"]) Object.freeze(req[key] = req[key] || {});
      let fn;
      try {
        const wait = /\bawait\b/.test(req.code);
        lineOffset = wait ? 1 : 0;
        fn = new FunctionCtor(wait ? "return (async () => {\n" + req.code + "\n})();" : req.code);
      } catch (exc) {
        outcome = { ok: false, error: { kind: "syntax", type: exc.name, message: exc.message, line: null } };
        return;
      }
      const done = (items) => { outcome = { ok: true, items }; };
      const failed = (exc) => { outcome = { ok: false, error: errorInfo(exc, exc && exc.itemIndex) }; };
      (req.mode === "eachItem" ? runEach(fn, req.itemErrors) : runAll(fn)).then(done, failed);
    },
    nextTimer() {
      return outcome || !timers.length ? -1 : earliest().at - clock;
    },
    fireTimer() {
      const timer = earliest();
      clock = timer.at;
      if (timer.every) timer.at += timer.every;
      else clearTimer(timer.id);
      try {
        timer.fn(...timer.args);
      } catch (exc) {
        outcome = { ok: false, error: errorInfo(exc, undefined) };
      }
    },
    outcome() {
      const logText = logs.join("") + (logSize > MAX_LOG ? `\n[${logSize - MAX_LOG} more characters cut]` : "");
      return JSON.stringify({ ...(outcome || { ok: false, error: { kind: "runtime", type: "Error", message: "the code did not finish (it waits for something that never comes)" } }), logs: logText });
    },
  });
})();
