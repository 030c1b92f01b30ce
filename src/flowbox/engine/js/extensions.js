// n8n's data transformation functions (isEmpty, toTitleCase, extractEmail, sum, pluck, round, keys,
// hasField, toDateTime, plus(1, 'day') ...) on the built-in prototypes and Luxon's DateTime, inside the
// QuickJS sandbox only (flowbox.engine.javascript loads this after luxon.min.js; n8n.js freezes it all).
(function () {
  "use strict";
  const { DateTime } = globalThis.luxon;
  function fail(message) {
    throw new Error(message);
  }

  // ---------------------------------------------------------------- n8n's data transformation functions
  // Each is a non-enumerable accessor on the prototype: reading gives the function, and assigning to an
  // object of that type makes an own property (so a frozen prototype never refuses `obj.keys = ...`).
  function define(proto, methods) {
    for (const [name, fn] of Object.entries(methods)) {
      Object.defineProperty(proto, name, {
        get() { return fn; },
        set(value) {
          if (!Object.isExtensible(this)) return; // a frozen object (the prototype itself) keeps its method
          Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
        },
        enumerable: false, configurable: false,
      });
    }
  }

  const EMAIL = /(([^<>()[\]\\.,;:\s@"]+(\.[^<>()[\]\\.,;:\s@"]+)*)|(".+"))@((\[[0-9]{1,3}(\.[0-9]{1,3}){3}])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))/;
  const URL_IN = /(?:(?:https?|ftp):\/\/)(?:www\.)?((?:(?:[-\w]+\.)+(?:[a-zA-Z]{2,}|xn--[a-zA-Z0-9]+)|localhost|\d{1,3}(?:\.\d{1,3}){3}))(?::\d+)?(?:\/[^\s?#]*)?(?:\?[^\s#]*)?(?:#[^\s]*)?/i;
  const DOMAIN = /^(?:(?:https?|ftp):\/\/)?(?:mailto:)?(?:\/\/)?((?:www\.)?(?:(?:[-\w]+\.)+(?:[a-zA-Z]{2,}|xn--[a-zA-Z0-9]+)|localhost|\d{1,3}(?:\.\d{1,3}){3}))(?::\d+)?(?:[/?#]\S*)?$/i;
  const CURRENCY = /[$€£¥₹₽₩₪₫₱฿]/gu;
  const SMALL_WORDS = new Set(["a", "an", "and", "as", "at", "but", "by", "for", "in", "nor", "of", "on", "or",
    "the", "to", "via", "vs"]);
  const words = (s) => s.replace(/([a-z0-9])([A-Z])/g, "$1 $2").split(/[^\p{L}\p{N}]+/u).filter(Boolean);

  function toDateTimeFromString(text, format) {
    if (format) {
      if (["ms", "s", "us", "excel"].includes(format)) return toDateTimeFromNumber(Number(text), format);
      const parsed = DateTime.fromFormat(text, format);
      if (!parsed.isValid) fail(`cannot convert '${text}' to a DateTime with format '${format}'`);
      return parsed;
    }
    for (const parse of [DateTime.fromISO, DateTime.fromHTTP, DateTime.fromRFC2822, DateTime.fromSQL]) {
      const parsed = parse.call(DateTime, text, { setZone: true });
      if (parsed.isValid) return parsed;
    }
    if (/^\d+$/.test(text)) return DateTime.fromMillis(Number(text));
    const fallback = Date.parse(text);
    if (!Number.isNaN(fallback)) return DateTime.fromMillis(fallback);
    return fail(`cannot convert '${text}' to a DateTime`);
  }

  function toDateTimeFromNumber(n, format = "ms") {
    switch (format) {
      case "ms": return DateTime.fromMillis(n);
      case "s": return DateTime.fromSeconds(n);
      case "us": return DateTime.fromMillis(n / 1000);
      case "excel": return DateTime.fromMillis((n - 25569) * 86400000, { zone: "UTC" });
      default: return fail(`unknown format '${format}' (use ms, s, us or excel)`);
    }
  }

  function toNumberOrFail(text, parse, what) {
    const n = parse(text.replace(CURRENCY, "").trim());
    if (Number.isNaN(n)) fail(`cannot convert '${text}' to ${what}`);
    return n;
  }

  function base64Encode(text) {
    const bytes = unescape(encodeURIComponent(text));
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let out = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes.charCodeAt(i) << 16) | ((bytes.charCodeAt(i + 1) || 0) << 8) | (bytes.charCodeAt(i + 2) || 0);
      out += chars[(n >> 18) & 63] + chars[(n >> 12) & 63] + (i + 1 < bytes.length ? chars[(n >> 6) & 63] : "=") +
        (i + 2 < bytes.length ? chars[n & 63] : "=");
    }
    return out;
  }

  function base64Decode(text) {
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const clean = text.replace(/[^A-Za-z0-9+/]/g, "");
    let bytes = "";
    for (let i = 0; i < clean.length; i += 4) {
      const n = (chars.indexOf(clean[i]) << 18) | (chars.indexOf(clean[i + 1]) << 12) |
        ((chars.indexOf(clean[i + 2]) & 63) << 6) | (chars.indexOf(clean[i + 3]) & 63);
      bytes += String.fromCharCode((n >> 16) & 255);
      if (i + 2 < clean.length) bytes += String.fromCharCode((n >> 8) & 255);
      if (i + 3 < clean.length) bytes += String.fromCharCode(n & 255);
    }
    return decodeURIComponent(escape(bytes));
  }

  define(String.prototype, {
    isEmpty() { return this.length === 0; },
    isNotEmpty() { return this.length > 0; },
    isBlank() { return this.trim() === ""; },
    isNotBlank() { return this.trim() !== ""; },
    toJsonString() { return JSON.stringify(String(this)); },
    removeTags() { return this.replace(/<[^>]*>?/gm, ""); },
    removeMarkdown() {
      return this.replace(/^([\s\t]*)([*\-+]|\d\.)\s+/gm, "$1").replace(/<[^>]*>?/gm, "")
        .replace(/!\[(.*?)\][[(].*?[\])]/g, "$1").replace(/\[(.*?)\][[(].*?[\])]/g, "$1")
        .replace(/^#{1,6}\s*/gm, "").replace(/([*_~`]{1,3})(\S.*?\S|\S)\1/g, "$2").replace(/^>\s?/gm, "");
    },
    toDateTime(format) { return toDateTimeFromString(String(this), format); },
    toDate() {
      const ms = Date.parse(this);
      if (Number.isNaN(ms)) fail("cannot convert to date");
      return new Date(ms);
    },
    urlEncode(entire = false) { return entire ? encodeURI(this) : encodeURIComponent(this); },
    urlDecode(entire = false) { return entire ? decodeURI(this) : decodeURIComponent(this); },
    toInt(radix) { return toNumberOrFail(String(this), (t) => parseInt(t, radix), "an integer"); },
    toFloat() {
      if (this.includes(",")) fail("cannot convert to float, expected . as decimal separator");
      return toNumberOrFail(String(this), parseFloat, "a float");
    },
    toNumber() { return toNumberOrFail(String(this), (t) => (t === "" ? NaN : Number(t)), "a number"); },
    toBoolean() { const t = this.toLowerCase(); return t.length > 0 && !["false", "no", "0"].includes(t); },
    quote(mark = '"') { return mark + this.replace(/\\/g, "\\\\").split(mark).join("\\" + mark) + mark; },
    isNumeric() { return !this.includes(" ") && this.trim() !== "" && !Number.isNaN(Number(this)); },
    isUrl() { const m = URL_IN.exec(this); return Boolean(m) && m[0] === String(this); },
    isDomain() { return DOMAIN.test(this) && !/^(https?|ftp):/i.test(this); },
    isEmail() { const m = EMAIL.exec(this); return Boolean(m) && m[0] === String(this).trim() && !this.includes(" "); },
    extractEmail() { const m = EMAIL.exec(this); return m ? m[0] : undefined; },
    extractUrl() { const m = URL_IN.exec(this); return m ? m[0] : undefined; },
    extractDomain() {
      const email = EMAIL.exec(this);
      if (email && email[0] === String(this)) return email[5];
      const m = DOMAIN.exec(this);
      return m ? m[1] : undefined;
    },
    extractUrlPath() {
      const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]+(\/[^?#]*)?/i.exec(this);
      return m ? m[1] || "/" : undefined;
    },
    toTitleCase() {
      return this.replace(/\S+/g, (word, offset) => (offset > 0 && SMALL_WORDS.has(word.toLowerCase())
        ? word.toLowerCase() : word.charAt(0).toUpperCase() + word.slice(1)));
    },
    toSentenceCase() {
      return this.toLowerCase().replace(/(^\s*\p{L}|[.!?]\s+\p{L})/gu, (m) => m.toUpperCase());
    },
    toSnakeCase() { return words(String(this)).map((w) => w.toLowerCase()).join("_"); },
    toKebabCase() { return words(String(this)).map((w) => w.toLowerCase()).join("-"); },
    toCamelCase() {
      return words(String(this)).map((w, i) => (i ? w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()
        : w.toLowerCase())).join("");
    },
    replaceSpecialChars() { return this.normalize("NFD").replace(/[\u0300-\u036f]/g, ""); },
    parseJson() {
      try { return JSON.parse(this); } catch (exc) {
        return fail(this.includes("'") ? "Parsing failed. Check you're using double quotes" : "Parsing failed");
      }
    },
    base64Encode() { return base64Encode(String(this)); },
    base64Decode() { return base64Decode(String(this)); },
    hash(algorithm = "md5") {
      if (String(algorithm).toLowerCase() === "base64") return base64Encode(String(this));
      return fail(`hash('${algorithm}') is not available in expressions; use the Crypto node (base64 works)`);
    },
  });

  const numbers = (array) => array.filter((v) => typeof v === "number" && !Number.isNaN(v));
  const same = (a, b) => a === b || JSON.stringify(a) === JSON.stringify(b);
  const uniqueBy = (array, keyOf) => {
    const seen = new Set();
    return array.filter((v) => { const k = keyOf(v); if (seen.has(k)) return false; seen.add(k); return true; });
  };
  define(Array.prototype, {
    isEmpty() { return this.length === 0; },
    isNotEmpty() { return this.length > 0; },
    first() { return this[0]; },
    last() { return this[this.length - 1]; },
    pluck(...fields) {
      if (!fields.length) return this.slice();
      return this.filter((v) => v && typeof v === "object").map((v) => (fields.length === 1 ? v[fields[0]]
        : Object.fromEntries(fields.filter((f) => f in v).map((f) => [f, v[f]]))));
    },
    unique(...fields) {
      return uniqueBy(this, (v) => JSON.stringify(fields.length && v && typeof v === "object"
        ? fields.map((f) => v[f]) : v));
    },
    removeDuplicates(...fields) { return this.unique(...fields); },
    sum() { return numbers(this).reduce((a, b) => a + b, 0); },
    min() { const n = numbers(this); return n.length ? Math.min(...n) : undefined; },
    max() { const n = numbers(this); return n.length ? Math.max(...n) : undefined; },
    average() { const n = numbers(this); return n.length ? n.reduce((a, b) => a + b, 0) / n.length : 0; },
    chunk(size) {
      if (!(size >= 1)) fail("chunk(size) needs a size of at least 1");
      const out = [];
      for (let i = 0; i < this.length; i += size) out.push(this.slice(i, i + size));
      return out;
    },
    compact() { return this.filter((v) => v !== null && v !== undefined && v !== "" && !Number.isNaN(v)); },
    difference(other) { return this.filter((v) => !other.some((o) => same(o, v))); },
    intersection(other) { return uniqueBy(this.filter((v) => other.some((o) => same(o, v))), JSON.stringify); },
    union(other) { return uniqueBy(this.concat(other), JSON.stringify); },
    merge(other) {
      if (other === undefined) return Object.assign({}, ...this.filter((v) => v && typeof v === "object"));
      return this.map((v, i) => Object.assign({}, v, other[i]));
    },
    randomItem() { return this[Math.floor(Math.random() * this.length)]; },
    renameKeys(...pairs) {
      return this.map((v) => {
        if (!v || typeof v !== "object") return v;
        const out = { ...v };
        for (let i = 0; i + 1 < pairs.length; i += 2) {
          if (pairs[i] in out) { out[pairs[i + 1]] = out[pairs[i]]; delete out[pairs[i]]; }
        }
        return out;
      });
    },
    smartJoin(keyField, valueField) {
      return Object.fromEntries(this.filter((v) => v && typeof v === "object").map((v) => [v[keyField], v[valueField]]));
    },
    append(...values) { return this.concat(values); },
    toJsonString() { return JSON.stringify(this); },
  });

  define(Number.prototype, {
    round(decimals = 0) { const f = 10 ** decimals; return Math.round(this * f) / f; },
    ceil(decimals = 0) { const f = 10 ** decimals; return Math.ceil(this * f) / f; },
    floor(decimals = 0) { const f = 10 ** decimals; return Math.floor(this * f) / f; },
    abs() { return Math.abs(this); },
    isEven() { return Number.isInteger(+this) && this % 2 === 0; },
    isOdd() { return Number.isInteger(+this) && Math.abs(this % 2) === 1; },
    isInteger() { return Number.isInteger(+this); },
    toBoolean() { return +this !== 0; },
    toInt() { return Math.trunc(this); },
    toFloat() { return +this; },
    toDateTime(format) { return toDateTimeFromNumber(+this, format); },
    format(locale, options) {
      const o = options || {};
      const digits = o.maximumFractionDigits;
      let text = digits === undefined ? String(+this) : (+this).toFixed(digits).replace(/\.?0+$/, "");
      if (o.minimumFractionDigits !== undefined) {
        const [int, frac = ""] = text.split(".");
        text = int + "." + frac.padEnd(o.minimumFractionDigits, "0");
      }
      if (o.useGrouping !== false) text = text.replace(/^(-?\d+)/, (m) => m.replace(/\B(?=(\d{3})+(?!\d))/g, ","));
      return text;
    },
    toJsonString() { return JSON.stringify(+this); },
  });

  define(Boolean.prototype, {
    toNumber() { return this.valueOf() ? 1 : 0; },
    toInt() { return this.valueOf() ? 1 : 0; },
    toFloat() { return this.valueOf() ? 1 : 0; },
    toBoolean() { return this.valueOf(); },
  });

  define(Object.prototype, {
    isEmpty() { return Object.keys(this).length === 0; },
    isNotEmpty() { return Object.keys(this).length > 0; },
    hasField(name) { return Object.prototype.hasOwnProperty.call(this, name); },
    removeField(name) { const out = { ...this }; delete out[name]; return out; },
    removeFieldsContaining(text) {
      return Object.fromEntries(Object.entries(this).filter(([, v]) => !(typeof v === "string" && v.includes(text))));
    },
    keepFieldsContaining(text) {
      return Object.fromEntries(Object.entries(this).filter(([, v]) => typeof v === "string" && v.includes(text)));
    },
    compact() { return Object.fromEntries(Object.entries(this).filter(([, v]) => v !== null && v !== undefined && v !== "")); },
    toJsonString() { return JSON.stringify(this); },
    urlEncode() {
      return Object.entries(this).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
    },
    keys() { return Object.keys(this); },
    values() { return Object.values(this); },
    merge(other) { return { ...other, ...this }; },
  });

  // dates: n8n's functions on Luxon DateTimes; JS Dates get them by turning into one
  const dtPlus = DateTime.prototype.plus;
  const dtMinus = DateTime.prototype.minus;
  const asDuration = (amount, unit) => (typeof amount === "number" ? { [unit || "milliseconds"]: amount } : amount);
  const dateMethods = {
    plus(amount, unit) { return dtPlus.call(this, asDuration(amount, unit)); },
    minus(amount, unit) { return dtMinus.call(this, asDuration(amount, unit)); },
    beginningOf(unit = "week") { return this.startOf(unit); },
    endOfMonth() { return this.endOf("month"); },
    extract(unit = "week") {
      const map = { weekNumber: "weekNumber", week: "weekNumber", yearDayNumber: "ordinal", dayOfYear: "ordinal",
        weekday: "weekday" };
      return this.get(map[unit] || unit);
    },
    format(fmt) { return this.toFormat(fmt); },
    isBetween(a, b) {
      const lo = toDateTime(a), hi = toDateTime(b);
      return (this > lo && this < hi) || (this > hi && this < lo);
    },
    isDst() { return this.isInDST; },
    isInLast(n = 0, unit = "minutes") { const ago = DateTime.now().minus({ [unit]: n }); return this >= ago && this <= DateTime.now(); },
    isWeekend() { return this.weekday >= 6; },
    toDateTime() { return this; },
    diffTo(other, unit = "days") { return this.diff(toDateTime(other), unit).get(unit); },
    diffToNow(unit = "days") { return DateTime.now().diff(this, unit).get(unit); },
  };
  function toDateTime(value) {
    if (DateTime.isDateTime(value)) return value;
    if (value instanceof Date) return DateTime.fromJSDate(value);
    if (typeof value === "number") return DateTime.fromMillis(value);
    return toDateTimeFromString(String(value));
  }
  Object.assign(DateTime.prototype, { plus: dateMethods.plus, minus: dateMethods.minus });
  define(DateTime.prototype, Object.fromEntries(Object.entries(dateMethods).filter(([k]) => !["plus", "minus"].includes(k))));
  define(Date.prototype, Object.fromEntries(Object.keys(dateMethods).map((name) => [name, function (...args) {
    return dateMethods[name].apply(DateTime.fromJSDate(this), args);
  }])));

})();
