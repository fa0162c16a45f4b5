// The mirror page: the newest snapshot from /api/stream (Server-Sent Events).
// When every stream slot is taken (503) it polls /api/state instead and tries
// the stream again later. The page only shows: the coach decides.
"use strict";
(function () {
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  const main = $("mirror");
  // Every sentence comes from device/words.py (page_words), looked up by id.
  const WORDS = JSON.parse(document.getElementById("words").textContent);
  // A line of the glass by its id, its {names} filled from `values`.
  const say = (id, values = {}) => WORDS.glass[id].replace(/\{(\w+)\}/g, (_, k) => values[k]);
  let last = null;
  // Data (a snapshot, or the stream's keep-alive every half second) last heard:
  // a second without any, and the glass says it is reconnecting, not the last count.
  const SILENT_MS = 1000;
  // performance.now(): a clock the wall clock's corrections (NTP) do not move.
  let heardAt = performance.now();
  const heard = () => { heardAt = performance.now(); };
  const silent = () => performance.now() - heardAt > SILENT_MS;
  let sleepMs = 1000 * Number(main.dataset.sleepS || 0);
  let seenAt = Date.now();
  // Sound: a chime per counted rep (Web Audio, no file), a cue spoken by the
  // device (espeak-ng WAV from api/speech), never two at once.
  let audioCtx = null, voice = null, lastCount = null, lastCue = null;
  function chime() {
    if (main.dataset.chime !== "1") return;
    try {
      audioCtx = audioCtx || new AudioContext();
      const o = audioCtx.createOscillator(), g = audioCtx.createGain();
      o.frequency.value = 880; g.gain.setValueAtTime(0.25, audioCtx.currentTime);
      g.gain.exponentialRampToValueAtTime(0.001, audioCtx.currentTime + 0.35);
      o.connect(g).connect(audioCtx.destination); o.start(); o.stop(audioCtx.currentTime + 0.4);
    } catch (e) { /* no audio device: the count still shows */ }
  }
  function speak(cueId) {
    if (main.dataset.speech !== "1" || (voice && !voice.ended && !voice.paused)) return;
    voice = new Audio(`api/speech/${encodeURIComponent(cueId)}`);
    window.__spoken = (window.__spoken || []).concat([cueId]);
    voice.play().catch(() => {});
  }

  function clock(s) {
    if (s == null) return "";
    const m = Math.floor(s / 60), r = Math.floor(s % 60);
    return `${m}:${String(r).padStart(2, "0")}`;
  }

  const esc = (t) => String(t).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  // The camera away: why (the device's words) and when it is tried again.
  let retrySnap = null, retryAt = 0;
  function cameraAway(s) {
    if (s !== retrySnap) {
      retrySnap = s;
      retryAt = Date.now() + 1000 * (s.camera_retry_s || 0);
    }
    const left = Math.ceil((retryAt - Date.now()) / 1000);
    const when = s.camera_retry_s == null ? "" : ` · ${left > 0 ? say("next_try", {s: left}) : say("trying_now")}`;
    return `${esc(say("camera_away"))}<small>${esc(s.camera_text || "")}${esc(when)}</small>`;
  }

  // A (line, small print) pair from the words, as the notice shows it.
  const said = ([line, small]) => `${esc(line)}<small>${esc(small)}</small>`;

  function notice(html) {
    const n = $("notice");
    n.hidden = !html;
    n.innerHTML = html || "";
  }

  // Settings staff change while the page is open arrive with each snapshot.
  function settle(d) {
    if (!d) return;
    sleepMs = 1000 * Number(d.sleep_s || 0);
    main.dataset.sleepS = String(d.sleep_s || 0);
    main.dataset.chime = d.chime ? "1" : "0";
    main.dataset.speech = d.speech ? "1" : "0";
  }

  function reconnecting() {
    main.dataset.state = "reconnecting";
    $("camera-on").hidden = true;  // what the camera does is not known from here
    document.body.classList.remove("asleep");  // said even on a sleeping glass
    notice(said([say("reconnecting"), say("reconnecting_why")]));
  }

  function show(s) {
    if (!s) return;
    last = s;
    if (silent()) return reconnecting();
    settle(s.display);
    // The camera's mark: on while frames come from a live camera (not a recording).
    $("camera-on").hidden = !(s.camera === "ok" && s.live === true);
    if ("demo" in s) $("demo-banner").hidden = !s.demo;
    let state = "training";
    if (s.present) seenAt = Date.now();
    // The placement guide (shown while nobody is in view) marks the view last seen.
    if (s.present && s.view && s.view !== "unknown") main.dataset.lastView = s.view;
    document.body.classList.toggle("asleep",
      !s.present && sleepMs > 0 && Date.now() - seenAt > sleepMs);
    if (s.camera === "unavailable") {
      state = "camera";
      notice(cameraAway(s));
    } else if (s.camera === "restarting") {
      state = "camera";
      notice(said(WORDS.camera.restarting));
    } else if (s.camera === "failed" || s.camera === "ended") {
      state = "camera";
      notice(said(WORDS.camera[s.camera]));
    } else if (!s.present) {
      state = s.framing ? "framing" : "away";
      notice(said(WORDS.framing[s.framing] || WORDS.framing.away));
    } else {
      notice("");
      if (!s.calibrated && !s.set_reps && !(s.sets_done || []).length) state = "calibrating";
    }
    main.dataset.state = state;
    // Resting: the big number is the set just done, beside its summary; the next
    // set's count starts from zero once the rest is over or its first rep comes.
    const resting = s.set_state === "resting" && s.last_set &&
      s.rest_target_s - (s.rest_s ?? 0) > 0 && !s.set_reps;
    $("rep-count").textContent = String(resting ? s.last_set.reps : s.set_reps ?? 0);
    $("target").textContent = s.set_target_reps ? say("of_target", {target: s.set_target_reps}) : "";
    const sets = s.sets_done || [];
    $("sets-done").textContent = !sets.length ? "" : say(sets.length === 1 ? "sets_done_one" : "sets_done",
                                                         {n: sets.length, reps: sets.join(" · ")});
    let title = "", timer = "";
    // Past the target of sets: counted and kept all the same, and said so.
    const extra = s.set_target_sets ? Math.max(0, sets.length - s.set_target_sets) : 0;
    if (s.set_state === "working" && s.set_extra) {
      title = say("extra_set", {n: s.set_number - s.set_target_sets, sets: s.set_target_sets});
      timer = clock(s.set_elapsed_s);
    } else if (s.set_state === "working") {
      title = say(s.set_target_sets ? "set_of" : "set", {n: s.set_number, sets: s.set_target_sets});
      timer = clock(s.set_elapsed_s);
    } else if (s.set_state === "resting") {
      title = say("set_done");
      const left = s.rest_target_s - (s.rest_s ?? 0);
      timer = left > 0 ? say("rest", {clock: clock(left)}) : say("rest_over");
      const done = s.last_set;
      if (done) {
        const faulty = done.faults_per_rep.filter((f) => f.length).length;
        timer += ` — ${say(faulty ? "last_set_faults" : "last_set_clean", {faulty})}`;
      }
    } else if (s.set_state === "done") {
      title = say(extra ? "all_done_extra" : "all_done", {extra});
    }
    $("set-title").textContent = title;
    // A client's program (started by staff): the block and its note, never the client.
    const prog = s.program;
    const exercise = (id) => WORDS.exercises[id] || id;
    $("program").textContent = !prog ? "" : [
      say("program_block", {exercise: exercise(prog.exercise), set: prog.set, sets: prog.sets,
                            reps: prog.reps}),
      prog.blocks > 1 ? say("program_blocks", {n: prog.block, blocks: prog.blocks}) : "",
      prog.note].filter(Boolean).join(" · ");
    tempo(s.tempo);
    summary(s.program_summary);
    // The arms' menu; none while a program is followed (its block sets the targets).
    menu(prog || s.program_summary ? null : s.menu);
    $("timer").textContent = timer;
    const strip = $("strip");
    strip.replaceChildren(...(s.set_faults || []).map((f) => {
      const dot = document.createElement("i");
      if (f.length) dot.className = "bad";
      return dot;
    }));
    let phase = WORDS.phases[s.phase] ?? "";
    if (s.guide_text && !s.last_fault_text) phase = s.guide_text;
    if (s.present && s.clear === false) phase = say("unclear");
    // Seated, the hips' angle is a chair's, not a hinge's depth: the gauge stays empty.
    const fill = $("gauge-fill"), top = (s.depth_deg || 70) * 1.4;
    const depth = s.phase === "seated" ? 0 : s.hip_deg || 0;
    fill.style.width = `${Math.min(100, Math.max(0, 100 * depth / top))}%`;
    main.querySelector(".gauge .stand").style.left = `${100 * (s.stand_deg || 40) / top}%`;
    main.querySelector(".gauge .depth").style.left = `${100 * (s.depth_deg || 70) / top}%`;
    // A program's range limit: its own mark, and the fill past it in the warning colour.
    const limit = prog && prog.max_hip_deg, mark = main.querySelector(".gauge .limit");
    mark.hidden = !limit;
    if (limit) mark.style.left = `${Math.min(100, 100 * limit / top)}%`;
    fill.classList.toggle("past", !!limit && depth > limit);
    const rep = s.last_rep;
    // What this view could not check, said once per set (on its first rep), each
    // part with where it can be checked: the knees and hips facing the mirror,
    // the back and the balance from the side.
    const unseen = rep ? rep.unjudged.map((f) => WORDS.checks[f]).filter(Boolean) : [];
    const where = WORDS.where.map(([view, words]) => {
      const parts = [...new Set(unseen.filter((c) => c.where === view).map((c) => c.part))];
      return parts.length ? `${parts.join(", ")}: ${words}` : "";
    }).filter(Boolean);
    $("unjudged").textContent = unseen.length && (s.set_faults || []).length <= 1
      ? WORDS.not_checked.replace("{}", where.join("; ")) : "";
    if ("skeleton" in s) drawSkeleton(s.skeleton, s.skeleton_aspect);
    if (lastCount !== null && s.rep_count > lastCount) chime();
    lastCount = s.rep_count;
    if (s.cue_id && s.cue_s !== lastCue && lastCue !== null) speak(s.cue_id);
    lastCue = s.cue_s ?? lastCue ?? -1;
    $("phase").textContent = phase;
    $("fault").textContent = s.last_fault_text || "";
    const cue = $("cue");
    cue.textContent = s.cue || "";
    cue.classList.toggle("praise", !!s.cue_id && s.cue_id.startsWith("praise"));
    cue.classList.toggle("limit", s.cue_id === "range_limit");
  }

  // The tempo as a count-down, "down 3 · 2 · 1", the second under way lit
  // (the core's tempo step: device/core/report.py, tempo_step).
  function tempo(t) {
    const box = $("tempo");
    box.hidden = !t;
    if (!t) return;
    const numbers = [];
    for (let n = t.of; n >= 1; n--) {
      numbers.push(n === t.count ? `<b>${n}</b>` : String(n));
    }
    box.dataset.step = t.step;
    box.dataset.count = t.count == null ? "" : String(t.count);
    box.innerHTML = `<span>${esc(say(`tempo_${t.step}`))}</span> ${numbers.join(" · ")}`;
  }

  // The program done: prescribed against done, per block (device/store/programs.py,
  // adherence), until the person leaves.
  function summary(a) {
    const box = $("program-summary");
    box.hidden = !a;
    main.classList.toggle("summary-on", !!a);
    if (!a) return;
    const rows = a.blocks.map((b) => {
      const parts = [
        say("summary_block", {exercise: WORDS.exercises[b.exercise] || b.exercise, sets: b.sets,
                              reps: b.reps, done: b.reps_per_set.join(" · ") || "0"}),
        b.faulty ? say("summary_faulty", {n: b.faulty}) : say("summary_clean")];
      if (b.tempo_down_s != null && b.down_s_median != null) {
        parts.push(say(b.tempo_kept ? "summary_tempo_kept" : "summary_tempo",
                       {median: b.down_s_median, target: b.tempo_down_s}));
      }
      if (b.max_hip_deg != null) {
        parts.push(b.past_range ? say("summary_range", {n: b.past_range}) : say("summary_range_kept"));
      }
      return `<li>${esc(parts.join(" · "))}</li>`;
    });
    box.innerHTML = `<h2>${esc(say("program_done"))}</h2><ul>${rows.join("")}</ul>` +
      (a.adherence_pct == null ? "" : `<p>${esc(say("summary_adherence", {pct: a.adherence_pct}))}</p>`);
  }

  function menu(m) {
    const box = $("menu");
    box.hidden = !m;
    if (!m) return;
    if (m.mode === "asking") {
      box.innerHTML = `<p class="ask">${esc(say("menu_ask"))} <small>${esc(say("menu_ask_left", {s: m.left_s}))}</small></p>`;
      return;
    }
    const value = (it) => {
      if (it.id === "exercise") return WORDS.exercises[it.value] || it.value;
      if (it.id === "rest_s") return say("menu_seconds", {s: Math.round(it.value)});
      return it.value ? String(it.value) : say("menu_no_target");
    };
    const list = document.createElement("ul");
    for (const it of m.items) {
      const row = document.createElement("li"), name = document.createElement("span"),
        val = document.createElement("b");
      row.classList.toggle("on", it.id === m.item);
      row.dataset.item = it.id;
      name.textContent = say("menu_" + it.id);
      val.textContent = value(it);
      row.append(name, val);
      list.append(row);
    }
    const title = document.createElement("h2"), how = document.createElement("p");
    title.textContent = say("menu_title");
    how.textContent = say("menu_how");
    box.replaceChildren(title, list, how);
  }

  // The optional overlay: keypoints from the snapshot (no video reaches the page).
  const BONES = [[5, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [6, 12], [11, 12],
                 [11, 13], [13, 15], [12, 14], [14, 16]];
  // Drawn in the camera's frame, its shape kept (fitted to the screen, centred),
  // behind the words.
  function drawSkeleton(points, aspect) {
    const c = $("skeleton");
    if (c.width !== innerWidth || c.height !== innerHeight) {
      c.width = innerWidth; c.height = innerHeight;
    }
    const g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    if (!points) return;
    const a = aspect || 4 / 3;  // the frame's width over its height
    const w = Math.min(c.width, c.height * a), h = w / a;
    const x0 = (c.width - w) / 2, y0 = (c.height - h) / 2;
    c.dataset.box = [x0, y0, w, h].map(Math.round).join(",");
    g.strokeStyle = "#fff"; g.lineWidth = Math.max(3, innerHeight / 200); g.globalAlpha = 0.6;
    for (const [i, j] of BONES) {
      if (!points[i] || !points[j]) continue;
      g.beginPath();
      g.moveTo(x0 + points[i][0] * w, y0 + points[i][1] * h);
      g.lineTo(x0 + points[j][0] * w, y0 + points[j][1] * h);
      g.stroke();
    }
  }

  let poller = null;
  function poll() {
    fetch("api/state").then((r) => r.json()).then((j) => { heard(); show(j.state); })
      .catch(() => {});
  }
  function stream() {
    const es = new EventSource("api/stream");
    es.onopen = () => { heard(); if (poller) { clearInterval(poller); poller = null; } };
    es.onmessage = (e) => { heard(); show(JSON.parse(e.data)); };
    es.addEventListener("alive", heard);
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (no stream slot) or gone: poll now, try the stream again soon.
        if (!poller) poller = setInterval(poll, 250);
        setTimeout(stream, 5000);
      }  // else the browser reconnects by itself; the silence says so on the glass
    };
  }
  // Timers and sleep move on their own; a silence shows within a quarter second.
  setInterval(() => { if (last) show(last); else if (silent()) reconnecting(); }, 250);
  poll();
  stream();
})();
