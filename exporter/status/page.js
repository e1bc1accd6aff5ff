"use strict";
// Refreshes the status page in place from status.json. Every text goes in as textContent,
// never as markup. When the checks themselves change (a reload), the page is loaded anew.
(function () {
  var main = document.getElementById("status");
  var every = Number(main.dataset.refresh) * 1000;
  var stale = document.getElementById("stale");

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }
  function set(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }
  function fill(list, nodes) {
    list.replaceChildren.apply(list, nodes);
    list.hidden = nodes.length === 0;
  }
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#checks > li.check"));
  }

  function check(row, c) {
    row.dataset.status = c.status;
    row.querySelector(".state").textContent = c.symbol + " " + c.status;
    set(row.querySelector(".target"), c.target);
    set(row.querySelector(".reason"), c.reason);
    set(row.querySelector(".error"), c.error);
    row.querySelector(".problem").hidden = !(c.reason || c.error);
    set(row.querySelector(".observed"), c.observed);
    set(row.querySelector(".cert"), c.cert);
    set(row.querySelector(".delay"), c.newest_delay && "newest canary after " + c.newest_delay);
    row.querySelector(".uptime").textContent = c.uptime.text;
    var strip = row.querySelector(".strip");
    strip.setAttribute("aria-label", c.strip_text);
    strip.title = c.strip_text;
    strip.replaceChildren.apply(strip, c.strip.map(function (m) {
      if (m.status === "ok") return el("i");
      var why = m.reason ? " (" + m.reason + ")" : "";
      return el("i", "", { class: m.status.charAt(0), title: m.time + " " + m.status + why });
    }));
    fill(row.querySelector(".parts"), c.parts.map(function (p) {
      return el("li", p.name + ": " + p.status + (p.text ? " in " + p.text : ""),
                { "data-part": p.name, "data-status": p.status });
    }));
    fill(row.querySelector(".canaries"), Object.keys(c.canaries || {}).map(function (key) {
      var pair = el("div");
      pair.append(el("dt", key), el("dd", String(c.canaries[key])));
      return pair;
    }));
  }

  function failure(f) {
    var line = el("li", "", { class: "failure", "data-check": f.check });
    line.append(el("time", f.at, { datetime: f.last, title: f.last }), " ",
                el("b", f.check), " " + [f.reason, f.error].filter(Boolean).join(": ") + " ",
                el("span", f.text, { class: "fold" }));
    return line;
  }

  function show(view) {
    var current = rows();
    var names = view.checks.map(function (c) { return c.name; });
    var same = current.length === names.length && current.every(function (row, i) {
      return row.dataset.check === names[i];
    });
    if (!same) { window.location.reload(); return; }
    main.dataset.status = view.status;
    document.title = document.title.replace(/^\S+ [^·]+·/, view.symbol + " " +
      { ok: "OK", warn: "Warning", fail: "Failing", unknown: "No run yet" }[view.status] + " ·");
    document.querySelector("#verdict .symbol").textContent = view.symbol;
    document.querySelector("#verdict .text").textContent = view.verdict;
    set(document.getElementById("message"), view.message);
    var finished = document.getElementById("finished");
    finished.parentNode.hidden = !view.finished;
    finished.textContent = view.age || "";
    finished.setAttribute("datetime", view.finished || "");
    finished.title = view.finished || "";
    document.getElementById("version").textContent = view.version;
    document.getElementById("instance").textContent = view.instance;
    current.forEach(function (row, i) { check(row, view.checks[i]); });
    fill(document.getElementById("failures"), view.failures.map(failure));
    document.getElementById("no-failures").hidden = view.failures.length > 0;
    stale.hidden = true;
    main.dataset.updated = new Date().toISOString();
  }

  function refresh() {
    fetch("status.json", { cache: "no-store", credentials: "same-origin" })
      .then(function (answer) {
        if (!answer.ok) throw new Error("status.json answered " + answer.status);
        return answer.json();
      })
      .then(show)
      .catch(function (error) {
        set(stale, "Could not refresh (" + error.message + "); the figures below may be old.");
      })
      .finally(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
