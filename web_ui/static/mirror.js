// The mirror page: shows the newest snapshot from /api/stream (Server-Sent Events).
"use strict";
(function () {
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  const PHASES = { absent: "", ready: "Stand tall and still to begin", standing: "Standing",
                   descending: "Hinge down", bottom: "Bottom", ascending: "Drive up",
                   lockout: "Tall" };

  function show(s) {
    if (!s) return;
    $("rep-count").textContent = String(s.rep_count);
    $("phase").textContent = PHASES[s.phase] ?? s.phase;
    $("away").hidden = s.present;
    $("fault").textContent = s.last_fault_text || "";
    const cue = $("cue");
    cue.textContent = s.cue || "";
    cue.classList.toggle("praise", !!s.cue_id && s.cue_id.startsWith("praise"));
  }

  fetch("api/state").then((r) => r.json()).then((j) => show(j.state)).catch(() => {});
  const es = new EventSource("api/stream");
  es.onmessage = (e) => show(JSON.parse(e.data));
  es.onerror = () => { $("phase").textContent = "Reconnecting…"; };
})();
