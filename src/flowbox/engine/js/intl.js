// The part of ECMA-402 (Intl) that Luxon needs, for QuickJS, which has none: English names, Latin digits,
// the Gregorian calendar, and time zones whose UTC offsets come from Python's zoneinfo (a zone's table is
// asked for the first time an expression uses it: `zones.need(name)` throws, Python supplies the table, the
// expression runs again). Loaded before luxon.min.js; n8n.js takes `__flowboxIntl` and removes it.
(function () {
  "use strict";
  const zones = { UTC: [[-8.64e15, 0]] }; // name -> [[utc ms from which it holds, offset in minutes], ...]
  const hooks = { need: null };
  const aliases = { "Etc/UTC": "UTC", "Etc/GMT": "UTC", GMT: "UTC", Z: "UTC", "Etc/Universal": "UTC" };

  function table(name) {
    const key = aliases[name] || name;
    const found = zones[key];
    if (found) return found;
    if (found === undefined && hooks.need) hooks.need("zone:" + key);
    throw new RangeError("Invalid time zone specified: " + name);
  }

  function offsetAt(rows, ms) {
    let lo = 0, hi = rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (rows[mid][0] <= ms) lo = mid; else hi = mid - 1;
    }
    return rows[lo][1];
  }

  const pad = (n, w) => String(n).padStart(w, "0");
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

  class DateTimeFormat {
    constructor(locale, options) {
      const opts = options || {};
      this.zone = opts.timeZone ? String(opts.timeZone) : "UTC";
      this.rows = table(this.zone);
      this.opts = opts;
    }
    resolvedOptions() {
      return { locale: "en-US", numberingSystem: "latn", calendar: "gregory", timeZone: this.zone,
        hourCycle: "h23" };
    }
    formatToParts(date) {
      const ms = date === undefined ? Date.now() : +date;
      const d = new Date(ms + offsetAt(this.rows, ms) * 60000);
      const year = d.getUTCFullYear();
      const parts = [
        { type: "month", value: String(d.getUTCMonth() + 1) }, { type: "literal", value: "/" },
        { type: "day", value: String(d.getUTCDate()) }, { type: "literal", value: "/" },
        { type: "year", value: String(year > 0 ? year : 1 - year) }, { type: "literal", value: " " },
        { type: "era", value: year > 0 ? "AD" : "BC" }, { type: "literal", value: ", " },
        { type: "hour", value: pad(d.getUTCHours(), 2) }, { type: "literal", value: ":" },
        { type: "minute", value: pad(d.getUTCMinutes(), 2) }, { type: "literal", value: ":" },
        { type: "second", value: pad(d.getUTCSeconds(), 2) },
      ];
      if (this.opts.weekday) parts.unshift({ type: "weekday", value: DAYS[d.getUTCDay()] },
        { type: "literal", value: ", " });
      return parts;
    }
    format(date) {
      const ms = date === undefined ? Date.now() : +date;
      const d = new Date(ms + offsetAt(this.rows, ms) * 60000);
      const o = this.opts;
      const dateText = o.month === "long" || o.month === "short"
        ? `${MONTHS[d.getUTCMonth()].slice(0, o.month === "short" ? 3 : undefined)} ${d.getUTCDate()}, ${d.getUTCFullYear()}`
        : `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
      const timeText = `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
      if (o.hour !== undefined && o.year === undefined && o.month === undefined) return timeText;
      return o.hour !== undefined ? `${dateText}, ${timeText}` : dateText;
    }
    static supportedLocalesOf(locales) { return [].concat(locales || []); }
  }

  class NumberFormat {
    constructor(locale, options) { this.opts = options || {}; }
    format(n) {
      const o = this.opts;
      let text = o.maximumFractionDigits !== undefined ? Number(n).toFixed(o.maximumFractionDigits)
        : String(n);
      if (o.useGrouping) text = text.replace(/^(-?\d+)/, (m) => m.replace(/\B(?=(\d{3})+(?!\d))/g, ","));
      if (o.minimumIntegerDigits) {
        const neg = text.startsWith("-");
        const [int, frac] = (neg ? text.slice(1) : text).split(".");
        text = (neg ? "-" : "") + int.padStart(o.minimumIntegerDigits, "0") + (frac ? "." + frac : "");
      }
      return text;
    }
    resolvedOptions() { return { locale: "en-US", numberingSystem: "latn" }; }
  }

  class PluralRules {
    select(n) { return n === 1 ? "one" : "other"; }
  }

  globalThis.Intl = {
    DateTimeFormat, NumberFormat, PluralRules,
    getCanonicalLocales: (l) => [].concat(l || []),
  };
  globalThis.__flowboxIntl = {
    hooks,
    addZone(name, rows) { zones[name] = rows; },
    hasZone(name) { return Boolean(zones[aliases[name] || name]); },
    knowsZone(name) { return (aliases[name] || name) in zones; },
  };
})();
