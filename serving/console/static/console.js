// shopml console: draws the Plotly figures the server put in data-figure attributes and keeps the audience
// builder's count live. No inline script anywhere (the Content-Security-Policy forbids it).
(function () {
  "use strict";
  var prefix = document.body.getAttribute("data-prefix") || "/console";

  function draw() {
    if (typeof Plotly === "undefined") { return; }
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var figure = JSON.parse(el.getAttribute("data-figure"));
      var small = el.id.indexOf("spark-") === 0;
      Plotly.newPlot(el, figure.data, figure.layout, {displayModeBar: !small, staticPlot: small, responsive: true,
        displaylogo: false}).then(function () { el.setAttribute("data-drawn", "true"); });
    });
  }

  function liveCount() {
    var form = document.getElementById("audience");
    if (!form) { return; }
    var count = document.getElementById("audience-count");
    var value = document.getElementById("audience-value");
    var timer = null;
    function update() {
      var params = new URLSearchParams(new FormData(form));
      fetch(prefix + "/customers/count?" + params.toString(), {headers: {"Accept": "application/json"},
                                                               credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (body.error) { count.textContent = "–"; value.textContent = body.error; return; }
          count.textContent = body.count_text; value.textContent = body.value_text;
        });
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(update, 200); });
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(update, 50); });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(); liveCount(); });
})();
