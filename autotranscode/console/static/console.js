// The console's only script: live refresh of the uploads list and of an open upload, and HLS playback.
// Everything it inserts is HTML the server rendered (and escaped); it never builds markup from data itself.
"use strict";

function poll(url, every, onText) {
  let last = null;
  async function tick() {
    try {
      const response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
      if (response.ok) {
        const text = await response.text();
        if (text !== last) {
          if (last !== null) onText(text);
          last = text;
        }
      }
    } catch (e) {
      // the console restarted or the network blinked: try again next time
    }
    setTimeout(tick, every);
  }
  tick();
}

function liveList() {
  const body = document.getElementById("upload-rows");
  if (!body) return;
  poll(body.dataset.src, 1000, (html) => { body.innerHTML = html; });
}

function liveUpload() {
  const section = document.getElementById("upload-live");
  if (!section || section.dataset.open !== "yes") return;
  // While jobs run, reload when any job (or the upload) changes state; players start after the reload.
  poll(section.dataset.state, 1500, () => { window.location.reload(); });
}

function note(video, text) {
  const p = video.nextElementSibling;
  if (p && p.classList.contains("player-note")) { p.textContent = text; p.hidden = false; }
}

function fallBack(video, why) {
  if (video.dataset.mp4 && video.src !== video.dataset.mp4) {
    video.src = video.dataset.mp4;
    note(video, why + "; playing the MP4 rendition instead.");
  } else {
    note(video, why + ".");
  }
}

function players() {
  for (const video of document.querySelectorAll("video[data-hls]")) {
    const url = video.dataset.hls;
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls();
      video.hls = hls;  // for the browser tests: levels, currentLevel
      hls.on(window.Hls.Events.ERROR, (event, data) => {
        if (data.fatal) { hls.destroy(); fallBack(video, "HLS playback failed (" + data.details + ")"); }
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      // Safari and other browsers that play HLS themselves; some answer "maybe" and then cannot.
      video.addEventListener("error", () => fallBack(video, "This browser cannot play this HLS stream"), { once: true });
      video.src = url;
    } else {
      fallBack(video, window.Hls ? "This browser cannot play HLS" : "No HLS player installed (make console-player)");
    }
  }
}

document.addEventListener("DOMContentLoaded", () => { liveList(); liveUpload(); players(); });
