/* Hazard Engine web form: plain JavaScript, no libraries, nothing loaded from elsewhere.
 *
 * 1. The checklist page shows only the questions that can still apply. The server embeds, per ruleset,
 *    each criterion's applicability condition and the questions it uses (#hz-config); this script
 *    evaluates the conditions with the same three-valued (Kleene) logic as the engine whenever an answer
 *    changes. A question is shown while any criterion using it is not ruled out; anything this script
 *    cannot decide counts as unknown, which keeps the question visible. Hidden questions keep their
 *    answers (they cannot change any outcome) and are still submitted. Without JavaScript the server's
 *    own marking applies and the "更新适用问题" button recomputes it.
 * 2. "以上均无" and the other boxes of a multi-choice question exclude each other.
 * 3. The start page shows the version in force on the chosen inspection date.
 * 4. [data-print] buttons print the page.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------ Kleene evaluation of conditions

  function isNum(x) { return typeof x === "number" && isFinite(x); }

  function operand(v, answers) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      if (typeof v.q === "string" && Object.keys(v).length === 1) {
        var a = answers[v.q];
        return a === undefined ? null : a;
      }
      return null; // arithmetic: left to the server (unknown keeps the question visible)
    }
    return v;
  }

  function same(a, b) {
    if (isNum(a) && isNum(b)) return a === b;
    return a === b;
  }

  function compare(a, b, op) {
    if (a === null || b === null || a === undefined || b === undefined) return null;
    if (op === "eq") return same(a, b);
    if (op === "ne") return !same(a, b);
    var ok = (isNum(a) && isNum(b)) || (typeof a === "string" && typeof b === "string");
    if (!ok) return null;
    if (op === "lt") return a < b;
    if (op === "le") return a <= b;
    if (op === "gt") return a > b;
    if (op === "ge") return a >= b;
    return null;
  }

  var OPS = ["eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in", "contains", "not_contains"];

  function leaf(c, answers) {
    var a = answers[c.q];
    if (a === undefined || a === null) return null;
    var op = null;
    for (var i = 0; i < OPS.length; i++) { if (Object.prototype.hasOwnProperty.call(c, OPS[i])) { op = OPS[i]; break; } }
    if (op === null) return null;
    var v = c[op];
    if (op === "in" || op === "not_in") {
      if (!Array.isArray(v)) return null;
      var inside = v.some(function (x) { return same(x, a); });
      return op === "in" ? inside : !inside;
    }
    if (op === "contains" || op === "not_contains") {
      if (!Array.isArray(a)) return null;
      var has = a.some(function (x) { return same(x, v); });
      return op === "contains" ? has : !has;
    }
    if (op === "between") {
      if (!Array.isArray(v) || v.length !== 2) return null;
      var lo = compare(operand(v[0], answers), a, "le");
      var hi = compare(a, operand(v[1], answers), "le");
      if (lo === false || hi === false) return false;
      return lo === null || hi === null ? null : true;
    }
    return compare(a, operand(v, answers), op);
  }

  function evaluate(c, answers) {
    if (c === null || typeof c !== "object") return null;
    if (Array.isArray(c.all)) {
      var vals = c.all.map(function (x) { return evaluate(x, answers); });
      if (vals.indexOf(false) >= 0) return false;
      return vals.every(function (x) { return x === true; }) ? true : null;
    }
    if (Array.isArray(c.any)) {
      var vs = c.any.map(function (x) { return evaluate(x, answers); });
      if (vs.indexOf(true) >= 0) return true;
      return vs.every(function (x) { return x === false; }) ? false : null;
    }
    if (Object.prototype.hasOwnProperty.call(c, "not")) {
      var n = evaluate(c.not, answers);
      return n === null ? null : !n;
    }
    if (typeof c.at_least === "number" && Array.isArray(c.of)) {
      var rs = c.of.map(function (x) { return evaluate(x, answers); });
      var t = rs.filter(function (x) { return x === true; }).length;
      var f = rs.filter(function (x) { return x === false; }).length;
      if (t >= c.at_least) return true;
      if (f > rs.length - c.at_least) return false;
      return null;
    }
    if (typeof c.q === "string") return leaf(c, answers);
    return null;
  }

  // ------------------------------------------------------------ reading the form

  function fieldsNamed(form, name) {
    var out = [];
    for (var i = 0; i < form.elements.length; i++) {
      if (form.elements[i].name === name) out.push(form.elements[i]);
    }
    return out;
  }

  function readAnswer(form, key, type) {
    var els = fieldsNamed(form, "a:" + key);
    if (!els.length) return null;
    if (type === "multi_choice") {
      var picked = els.filter(function (e) { return e.checked; }).map(function (e) { return e.value; });
      if (!picked.length) return null;
      if (picked.indexOf("__none__") >= 0) return picked.length === 1 ? [] : null;
      return picked;
    }
    var value = "";
    els.forEach(function (e) {
      if (e.type === "radio" || e.type === "checkbox") { if (e.checked) value = e.value; }
      else value = e.value;
    });
    value = String(value).trim();
    if (value === "") return null;
    if (type === "boolean") return value === "true" ? true : value === "false" ? false : null;
    if (type === "number" || type === "integer") {
      var x = Number(value);
      return isFinite(x) ? x : null;
    }
    return value;
  }

  function applicability(form, config) {
    var total = 0, shown = 0;
    config.rulesets.forEach(function (rs) {
      var answers = {};
      Object.keys(rs.known).forEach(function (k) { answers[k] = rs.known[k]; });
      Object.keys(rs.keys).forEach(function (qid) {
        var v = readAnswer(form, rs.keys[qid], rs.types[qid]);
        if (v !== null) answers[qid] = v;
      });
      var visible = {};
      rs.criteria.forEach(function (c) {
        if (c.applies === null || evaluate(c.applies, answers) !== false) {
          c.questions.forEach(function (q) { visible[q] = true; });
        }
      });
      Object.keys(rs.keys).forEach(function (qid) {
        var el = document.getElementById("q-" + rs.keys[qid].replace("/", "--"));
        if (!el) return;
        total += 1;
        if (visible[qid]) { el.hidden = false; shown += 1; } else { el.hidden = true; }
      });
    });
    var sections = document.querySelectorAll("section.qsection");
    for (var i = 0; i < sections.length; i++) {
      var qs = sections[i].querySelectorAll("div.q");
      var any = false;
      for (var j = 0; j < qs.length; j++) { if (!qs[j].hidden) { any = true; break; } }
      sections[i].hidden = !any;
    }
    var count = document.getElementById("visible-count");
    if (count) {
      count.textContent = "按目前的回答，共 " + shown + " 个问题可能适用" +
        (total > shown ? "（另有 " + (total - shown) + " 个已不适用，已隐藏）" : "") + "。";
    }
  }

  function setupChecklist() {
    var form = document.getElementById("checklist");
    var node = document.getElementById("hz-config");
    if (!form || !node) return;
    var config;
    try { config = JSON.parse(node.textContent); } catch (e) { return; }
    var refresh = form.querySelector("[data-refresh]");
    if (refresh) refresh.hidden = true; // live updates replace the server round trip
    var run = function () { applicability(form, config); };
    form.addEventListener("change", run);
    form.addEventListener("input", function (ev) { if (ev.target && ev.target.type === "number") run(); });
    run();
  }

  // ------------------------------------------------------------ multi-choice "以上均无"

  function setupNoneBoxes() {
    document.addEventListener("change", function (ev) {
      var box = ev.target;
      if (!box || box.type !== "checkbox" || !box.name || box.name.indexOf("a:") !== 0 || !box.checked) return;
      var group = fieldsNamed(box.form, box.name);
      var isNone = box.hasAttribute("data-none");
      group.forEach(function (other) {
        if (other !== box && (isNone || other.hasAttribute("data-none"))) other.checked = false;
      });
    }, true);
  }

  // ------------------------------------------------------------ start page: version in force

  function setupVersions() {
    var date = document.querySelector("[data-version-date]");
    if (!date) return;
    var update = function () {
      var day = date.value;
      var sectors = document.querySelectorAll("[data-sector]");
      for (var i = 0; i < sectors.length; i++) {
        var label = sectors[i].querySelector("[data-version-label]");
        var data = sectors[i].querySelector("script[data-versions]");
        if (!label || !data || !day) continue;
        var versions = JSON.parse(data.textContent);
        var current = versions.filter(function (v) { return v.from <= day && (v.until === null || day <= v.until); })[0];
        label.textContent = current
          ? "检查日施行版本：" + current.version + "（" + current.document + "，" + current.from + " 起施行" +
            (current.until ? "，至 " + current.until : "") + "）"
          : "检查日没有施行中的版本";
        var title = sectors[i].querySelector(".sector-title");
        if (title && current) title.textContent = current.title;
      }
    };
    date.addEventListener("change", update);
    date.addEventListener("input", update);
  }

  function setupPrint() {
    var buttons = document.querySelectorAll("[data-print]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function () { window.print(); });
    }
  }

  function start() {
    setupNoneBoxes();
    setupChecklist();
    setupVersions();
    setupPrint();
  }

  var api = { evaluate: evaluate };
  if (typeof module === "object" && module.exports) module.exports = api; // node: tests/test_web_api.py
  if (typeof document === "undefined") return;
  window.hazardEngine = api;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
