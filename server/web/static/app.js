// techledger console: a little hand-written script that only enhances the pages. Every form
// works without it; the server checks everything again. No inline script anywhere (the
// Content-Security-Policy forbids it), so this file wires itself up on load.
"use strict";

(function () {
  // GB 32100-2015 统一社会信用代码: code set, weights and check character.
  var USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  // usccProblem returns what is wrong with an organization's code, or "" if nothing is.
  function usccProblem(s) {
    if (s.length !== 18) return "统一社会信用代码应为 18 位，现为 " + s.length + " 位";
    var sum = 0;
    for (var i = 0; i < 18; i++) {
      var v = USCC_CHARS.indexOf(s.charAt(i));
      if (v < 0) return "第 " + (i + 1) + " 位“" + s.charAt(i) + "”不在代码字符集中（不含 I、O、Z、S、V，须大写）";
      if (i < 17) sum += v * USCC_WEIGHTS[i];
    }
    var want = USCC_CHARS.charAt((31 - (sum % 31)) % 31);
    if (s.charAt(17) !== want) return "校验码错误：第 18 位为 " + s.charAt(17) + "，应为 " + want;
    return "";
  }

  function errorFor(name) {
    return document.querySelector('[data-error-for="' + name + '"]');
  }

  function showError(field, input, msg) {
    var p = errorFor(field);
    if (!p) return;
    p.textContent = msg;
    p.hidden = msg === "";
    var box = input.closest(".field");
    if (box) box.classList.toggle("has-error", msg !== "");
    if (msg) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  }

  // The USCC of each party is checked as it is typed, as the server will check it: not for
  // individuals, nor for parties abroad, in Taiwan, Hong Kong or Macao.
  function wireUSCC(fs) {
    var p = fs.getAttribute("data-party");
    var id = fs.querySelector('[name="' + p + '.id"]');
    var kind = fs.querySelector('[name="' + p + '.kind"]');
    var region = fs.querySelector('[name="' + p + '.region"]');
    if (!id) return;
    function check() {
      var v = id.value.trim();
      if (v === "") { showError(p + ".id", id, ""); return; }
      var r = region ? region.value : "";
      if ((kind && kind.value === "individual") || r === "999999" || /^(71|81|82)/.test(r)) { showError(p + ".id", id, ""); return; }
      showError(p + ".id", id, usccProblem(v));
    }
    id.addEventListener("input", check);
    if (kind) kind.addEventListener("change", check);
    if (region) region.addEventListener("change", check);
  }

  // Type → subtype: only the chosen type's subtypes can be picked.
  function wireSubtypes(form) {
    var type = form.querySelector('select[name="type"]');
    var sub = form.querySelector('select[name="subtype"]');
    if (!type || !sub) return;
    function filter() {
      var t = type.value;
      Array.prototype.forEach.call(sub.querySelectorAll("option[data-parent]"), function (o) {
        var show = t === "" || o.getAttribute("data-parent") === t;
        o.hidden = !show;
        o.disabled = !show;
      });
      Array.prototype.forEach.call(sub.querySelectorAll("optgroup"), function (g) {
        g.hidden = !g.querySelector("option:not([disabled])");
      });
      var cur = sub.options[sub.selectedIndex];
      if (cur && cur.disabled) sub.value = "";
    }
    type.addEventListener("change", filter);
    filter();
  }

  // Region: the one select of every code becomes province → city → county; the original
  // select stays the form's field and takes the most precise choice.
  function wireRegion(sel) {
    var opts = Array.prototype.slice.call(sel.options).filter(function (o) { return o.value !== ""; });
    var provinces = opts.filter(function (o) { return !o.getAttribute("data-parent"); });
    var box = document.createElement("div");
    box.className = "cascade";
    function mk(label) {
      var s = document.createElement("select");
      s.setAttribute("aria-label", label);
      box.appendChild(s);
      return s;
    }
    var prov = mk("省"), city = mk("市"), county = mk("县区");
    function fill(s, list, first) {
      s.innerHTML = "";
      var o0 = document.createElement("option");
      o0.value = ""; o0.textContent = first; s.appendChild(o0);
      list.forEach(function (o) {
        var n = document.createElement("option");
        n.value = o.value; n.textContent = o.textContent.replace(/^\S+ /, ""); s.appendChild(n);
      });
      s.hidden = list.length === 0;
    }
    function children(code) { return opts.filter(function (o) { return o.getAttribute("data-parent") === code; }); }
    function sync() { sel.value = county.value || city.value || prov.value; sel.dispatchEvent(new Event("change")); }
    prov.addEventListener("change", function () { fill(city, children(prov.value), "（全省）"); fill(county, [], ""); sync(); });
    city.addEventListener("change", function () { fill(county, children(city.value), "（全市）"); sync(); });
    county.addEventListener("change", sync);
    fill(prov, provinces, "请选择省份");
    // Start from the current value.
    var v = sel.value, p = "", c = "";
    if (v) {
      var cur = opts.filter(function (o) { return o.value === v; })[0];
      var parent = cur ? cur.getAttribute("data-parent") : "";
      if (!parent) p = v;
      else if (parent === "140000") { p = "140000"; c = v; }
      else { p = "140000"; c = parent; }
    }
    prov.value = p;
    fill(city, p ? children(p) : [], "（全省）");
    city.value = c;
    fill(county, c ? children(c) : [], "（全市）");
    if (c && v !== c) county.value = v;
    sel.hidden = true;
    sel.parentNode.insertBefore(box, sel);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form"), wireSubtypes);
    Array.prototype.forEach.call(document.querySelectorAll("fieldset[data-party]"), wireUSCC);
    Array.prototype.forEach.call(document.querySelectorAll('select[data-kind$=".region"]'), wireRegion);
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (a) {
      a.addEventListener("click", function (e) { e.preventDefault(); window.print(); });
    });
    document.body.setAttribute("data-ready", "1");
  });
})();
