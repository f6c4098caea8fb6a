// The package viewer (/console/spark/{id}): the proxy with the package's tracks, lists that seek it,
// a time ruler, and the current frame's media timecode. Data comes from the artifact URLs the
// manifest lists; every text from a package is set as textContent, never as HTML.
"use strict";

// Timecode arithmetic at a rational rate. A timecode counts nominal frames (23.976 counts like 24);
// drop frame (29.97, 59.94) skips frame numbers 0 and 1 (0-3 at 59.94) of every minute but each tenth.
const SparkTimecode = (() => {
  function parseRate(text) {
    const value = String(text || "25");
    if (value.includes("/")) {
      const [num, den] = value.split("/").map(Number);
      return { num, den };
    }
    const decimal = Number(value);
    if (Number.isInteger(decimal)) return { num: decimal, den: 1 };
    const ntsc = [24000, 30000, 48000, 60000].find((num) => Math.abs(num / 1001 - decimal) < 0.01);
    return ntsc ? { num: ntsc, den: 1001 } : { num: Math.round(decimal * 1000), den: 1000 };
  }

  function counter(rateText, dropFrame) {
    const rate = parseRate(rateText);
    const nominal = Math.round(rate.num / rate.den);
    const drop = dropFrame ? Math.round(nominal / 15) : 0;
    const perMinute = nominal * 60 - drop;
    const perTenMinutes = nominal * 600 - drop * 9;
    const perDay = drop ? perTenMinutes * 144 : nominal * 86400;

    function toFrame(timecode) {
      const parts = String(timecode).split(/[:;.]/).map(Number);
      if (parts.length !== 4 || parts.some((part) => !Number.isFinite(part))) return 0;
      const [hours, minutes, seconds, frames] = parts;
      const totalMinutes = hours * 60 + minutes;
      return (hours * 3600 + minutes * 60 + seconds) * nominal + frames - drop * (totalMinutes - Math.floor(totalMinutes / 10));
    }

    function fromFrame(frame) {
      let number = ((frame % perDay) + perDay) % perDay;
      if (drop) {
        const tens = Math.floor(number / perTenMinutes);
        const rest = number % perTenMinutes;
        number += drop * 9 * tens + (rest > drop ? drop * Math.floor((rest - drop) / perMinute) : 0);
      }
      const two = (value) => String(value).padStart(2, "0");
      const frames = number % nominal;
      const seconds = Math.floor(number / nominal) % 60;
      const minutes = Math.floor(number / (nominal * 60)) % 60;
      const hours = Math.floor(number / (nominal * 3600)) % 24;
      return `${two(hours)}:${two(minutes)}:${two(seconds)}${drop ? ";" : ":"}${two(frames)}`;
    }

    // The frame shown at `seconds` into the media (a small tolerance absorbs float error at its start).
    function frameAt(seconds) {
      return Math.max(0, Math.floor((seconds * rate.num) / rate.den + 0.01));
    }

    // A time safely inside `frame`, so that a seek lands on it and not on the one before.
    function timeOf(frame) {
      return ((frame + 0.25) * rate.den) / rate.num;
    }

    return { rate, nominal, toFrame, fromFrame, frameAt, timeOf };
  }

  return { parseRate, counter };
})();
window.SparkTimecode = SparkTimecode;

(() => {
  const configNode = document.getElementById("viewer-config");
  if (!configNode) return;
  const config = JSON.parse(configNode.textContent);
  const clock = SparkTimecode.counter(config.frame_rate, config.drop_frame);
  const origin = clock.toFrame(config.source_timecode);
  const video = document.getElementById("proxy");
  const timecodeOut = document.getElementById("timecode");
  const frameOut = document.getElementById("frame");
  const ruler = document.getElementById("ruler");
  const entries = []; // {data_type, segment, startFrame, endFrame, item, mark}
  let currentFrame = -1;
  let selected = null;

  const mediaTimecode = (frame) => clock.fromFrame(origin + frame);

  function segmentFrames(segment) {
    const start = Number.isInteger(segment.startFrame) ? segment.startFrame : clock.frameAt(segment.start || 0);
    const end = Number.isInteger(segment.endFrame) ? segment.endFrame : clock.frameAt(segment.end || segment.start || 0);
    return [start, Math.max(start, end)];
  }

  function showFrame(frame) {
    if (frame === currentFrame) return;
    currentFrame = frame;
    timecodeOut.textContent = mediaTimecode(frame);
    frameOut.textContent = String(frame);
    for (const entry of entries) {
      const active = entry === selected || (frame >= entry.startFrame && (frame < entry.endFrame || frame === entry.startFrame));
      entry.item.classList.toggle("active", active);
      if (active) entry.button.setAttribute("aria-current", "true");
      else entry.button.removeAttribute("aria-current");
      if (entry.mark) entry.mark.classList.toggle("active", active);
    }
    moveHead(frame);
  }

  function choose(entry) {
    if (video) {
      selected = null;
      video.currentTime = clock.timeOf(entry.startFrame);
    } else {
      selected = entry;
      currentFrame = -1;
      showFrame(entry.startFrame);
    }
  }

  // --- the lists ------------------------------------------------------------------------------
  function entryText(segment) {
    return segment.eventValue == null ? "" : String(segment.eventValue);
  }

  function addList(list, segments) {
    const listNode = document.getElementById(`list-${list.data_type}`);
    const state = document.getElementById(`list-${list.data_type}-state`);
    for (const segment of segments) {
      const [startFrame, endFrame] = segmentFrames(segment);
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "entry";
      button.dataset.start = String(segment.start);
      button.dataset.frame = String(startFrame);
      const code = document.createElement("span");
      code.className = "tc";
      code.textContent = mediaTimecode(startFrame);
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = entryText(segment);
      button.append(code, " ", text);
      item.append(button);
      listNode.append(item);
      const entry = { data_type: list.data_type, label: list.label, segment, startFrame, endFrame, item, button, mark: null };
      button.addEventListener("click", () => choose(entry));
      entries.push(entry);
    }
    state.textContent = segments.length ? `${segments.length} ${list.label.toLowerCase()}` : `No ${list.label.toLowerCase()}.`;
  }

  async function loadList(list) {
    const state = document.getElementById(`list-${list.data_type}-state`);
    try {
      const response = await fetch(list.url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      const body = await response.json();
      addList(list, Array.isArray(body.segments) ? body.segments : []);
    } catch (error) {
      state.textContent = `Could not load the ${list.label.toLowerCase()}: ${error.message}`;
    }
  }

  // --- the ruler ------------------------------------------------------------------------------
  let head = null;
  let rulerFrames = 1;

  function buildRuler() {
    const lastFrame = Math.max(0, ...entries.map((entry) => entry.endFrame));
    const durationFrames = config.duration ? clock.frameAt(config.duration) : 0;
    rulerFrames = Math.max(1, durationFrames, lastFrame);
    ruler.replaceChildren();
    // The scale and the play head share the lanes' horizontal extent, so a percentage means one time.
    const area = document.createElement("div");
    area.className = "area";
    area.setAttribute("aria-hidden", "true");
    const scale = document.createElement("div");
    scale.className = "scale";
    const ticks = 5;
    for (let index = 0; index <= ticks; index += 1) {
      const frame = Math.round((rulerFrames * index) / ticks);
      const tick = document.createElement("span");
      tick.className = "tick";
      tick.style.left = `${(100 * frame) / rulerFrames}%`;
      tick.textContent = mediaTimecode(frame);
      scale.append(tick);
    }
    area.append(scale);
    ruler.append(area);
    for (const list of config.lists) {
      const row = document.createElement("div");
      row.className = "row";
      const name = document.createElement("span");
      name.className = "row-label";
      name.textContent = list.label;
      const lane = document.createElement("div");
      lane.className = "lane";
      lane.dataset.type = list.data_type;
      row.append(name, lane);
      for (const entry of entries.filter((candidate) => candidate.data_type === list.data_type)) {
        const mark = document.createElement("button");
        mark.type = "button";
        mark.className = `mark ${list.data_type}`;
        mark.style.left = `${(100 * entry.startFrame) / rulerFrames}%`;
        mark.dataset.frame = String(entry.startFrame);
        mark.setAttribute("aria-label", `${list.label.replace(/s$/, "")} at ${mediaTimecode(entry.startFrame)}: ${entryText(entry.segment)}`);
        mark.title = `${mediaTimecode(entry.startFrame)} ${entryText(entry.segment)}`;
        mark.addEventListener("click", () => choose(entry));
        entry.mark = mark;
        lane.append(mark);
      }
      ruler.append(row);
    }
    head = document.createElement("div");
    head.className = "head";
    area.append(head);
    currentFrame = -1;
    showFrame(video ? clock.frameAt(video.currentTime) : 0);
  }

  function moveHead(frame) {
    if (head) head.style.left = `${(100 * Math.min(frame, rulerFrames)) / rulerFrames}%`;
  }

  // --- the video and its tracks ---------------------------------------------------------------
  function followVideo() {
    const fromTime = () => showFrame(clock.frameAt(video.currentTime));
    video.addEventListener("seeked", fromTime);
    video.addEventListener("loadedmetadata", fromTime);
    video.addEventListener("timeupdate", () => {
      if (video.paused || !("requestVideoFrameCallback" in video)) fromTime();
    });
    if ("requestVideoFrameCallback" in video) {
      // The presented frame's own time: exact, where currentTime runs ahead of the picture.
      const onFrame = (_now, metadata) => {
        showFrame(clock.frameAt(metadata.mediaTime));
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  function setUpTracks() {
    const cues = document.getElementById("cues");
    const tracks = Array.from(video.querySelectorAll("track"));
    const lines = new Map();
    for (const element of tracks) {
      const track = element.track;
      const type = element.dataset.type;
      if (track.kind !== "captions") {
        const line = document.createElement("p");
        line.dataset.type = type;
        lines.set(type, line);
        cues.append(line);
        track.mode = "hidden"; // loaded and timed, drawn by us below the picture
        track.addEventListener("cuechange", () => {
          const active = Array.from(track.activeCues || []).map((cue) => cue.text);
          line.textContent = active.length ? `${element.label}: ${active.join(" · ")}` : "";
        });
      }
      const box = document.querySelector(`input[data-track="${type}"]`);
      box.addEventListener("change", () => {
        if (track.kind === "captions") track.mode = box.checked ? "showing" : "disabled";
        else {
          track.mode = box.checked ? "hidden" : "disabled";
          if (!box.checked) lines.get(type).textContent = "";
        }
      });
    }
  }

  // "," and "." step one frame back and forward, as in an editing application.
  function stepFrames(event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, select, textarea")) return;
    if (event.key !== "," && event.key !== ".") return;
    event.preventDefault();
    video.pause();
    const frame = clock.frameAt(video.currentTime) + (event.key === "." ? 1 : -1);
    video.currentTime = clock.timeOf(Math.max(0, frame));
  }

  if (video) {
    followVideo();
    setUpTracks();
    document.addEventListener("keydown", stepFrames);
  }
  Promise.all(config.lists.map(loadList)).then(() => {
    buildRuler();
    document.body.dataset.viewerReady = "true";
  });
})();
