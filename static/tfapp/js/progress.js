// Live progress on the result page: asks the transfer's status.json for changes and
// shows its place in the queue, then how far a long method is (share done, iterations,
// or frames of a clip, time left) and its latest preview; once it has ended, reloads to show the outcome.
// Each request names the state shown (?after=token), so the server answers when that
// state changes (long-polling); a server that answers at once is asked again later.
// Far back in the queue, the place is asked for at most once a second: every transfer
// that finishes moves every waiting page, and answering them all at once would load the
// server while it works; from first place on, every change is asked for at once.
(function () {
  "use strict";
  var panel = document.getElementById("result-pending");
  if (!panel) return;
  var url = panel.getAttribute("data-status-url");
  var badge = document.getElementById("transfer-status");
  var title = document.getElementById("progress-title");
  var note = document.getElementById("progress-note");
  var bar = document.getElementById("progress-bar");
  var figures = document.getElementById("progress-figures");
  var preview = document.getElementById("preview-image");
  var ended = { done: true, failed: true, cancelled: true };
  var token = "";
  var delay = 500;
  var QUEUE_PACE_MS = 1000;

  function show(state) {
    if (badge) {
      badge.textContent = state.status_display;
      badge.setAttribute("data-status", state.status);
      badge.className = "status-badge status-" + state.status;
    }
    if (state.status === "queued") {
      title.textContent = "Waiting for a free worker…";
      note.textContent = (state.queue_position ? "Position " + state.queue_position + " in the queue. " : "") +
        "This page updates by itself.";
    } else if (state.status === "running") {
      title.textContent = "Stylizing…";
      note.textContent = state.attempts > 1 ? "Retrying after a worker stopped (attempt " + state.attempts + ")." :
        "A worker is repainting your photo.";
    }
    showProgress(state);
  }

  function showProgress(state) {
    var known = state.status === "running" && state.progress !== null;
    bar.hidden = !known;
    if (known) bar.value = state.progress;
    var parts = [];
    if (known) parts.push(Math.floor(state.progress * 100) + " %");
    if (state.frames) parts.push("frame " + state.frames_done + " of " + state.frames);
    else if (state.steps) parts.push("iteration " + state.steps);
    if (state.eta_seconds !== null && state.status === "running") parts.push("about " + duration(state.eta_seconds) + " left");
    figures.textContent = parts.join(" · ");
    if (state.preview_url && preview.getAttribute("src") !== state.preview_url) {
      preview.src = state.preview_url;
      preview.hidden = false;
      panel.classList.add("has-preview");
    }
  }

  function duration(seconds) {
    if (seconds < 60) return Math.max(1, Math.round(seconds)) + " s";
    var minutes = Math.floor(seconds / 60);
    return minutes + " min " + Math.round(seconds - 60 * minutes) + " s";
  }

  function poll() {
    var started = Date.now();
    var asked = token ? url + "?after=" + encodeURIComponent(token) : url;
    fetch(asked, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        return response.json().then(function (state) {
          return { ok: response.ok, state: state };
        });
      })
      .then(function (reply) {
        if (!reply.ok) {
          // The transfer was deleted (404 with a reason): polling again cannot help.
          title.textContent = "This transfer is no longer available";
          note.textContent = reply.state.error || "";
          return;
        }
        if (ended[reply.state.status]) {
          window.location.reload();
          return;
        }
        show(reply.state);
        var changed = reply.state.token !== token;
        token = reply.state.token;
        var elapsed = Date.now() - started;
        if (!changed) delay = Math.min(delay * 1.25, 2000);
        var farBack = reply.state.status === "queued" && reply.state.queue_position > 1;
        var wait = changed ? (farBack ? QUEUE_PACE_MS : 0) : delay;
        window.setTimeout(poll, Math.max(0, wait - elapsed));
      })
      .catch(function () {
        note.textContent = "Lost contact with the server; retrying…";
        window.setTimeout(poll, 3000);
      });
  }

  poll();
})();
