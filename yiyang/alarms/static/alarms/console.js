// 接警台: a sound for each new unacknowledged alarm, when the operator has switched it on (browsers only play
// sound after a click on the page, hence the toggle; the choice is kept in localStorage). The queue itself is
// refreshed by htmx (hx-trigger="every 3s"); after each swap this compares the unacknowledged alarm ids.
(function () {
  "use strict";
  var toggle = document.getElementById("sound-toggle");
  var queue = document.getElementById("queue");
  var clock = document.getElementById("queue-clock");
  if (!toggle || !queue) return;
  var KEY = "yiyang.alarms.sound";
  var audio = null;
  var on = false;

  function raisedIds() {
    var list = queue.querySelector(".alarm-queue");
    var text = list ? list.getAttribute("data-raised") || "" : "";
    return text.split(" ").filter(Boolean);
  }

  function show() {
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = toggle.getAttribute(on ? "data-on" : "data-off");
  }

  function beep() {
    if (!on) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35, 0.7].forEach(function (at) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "square"; osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.15, audio.currentTime + at);
        gain.gain.setValueAtTime(0, audio.currentTime + at + 0.2);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + at); osc.stop(audio.currentTime + at + 0.22);
      });
    } catch (e) { /* no audio device: the page still flashes the card */ }
  }

  var known = raisedIds();
  try { on = window.localStorage.getItem(KEY) === "1"; } catch (e) { on = false; }
  show();
  toggle.addEventListener("click", function () {
    on = !on;
    try { window.localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* private mode */ }
    show();
    if (on) beep();
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.target !== queue) return;
    var now = raisedIds();
    var fresh = now.some(function (id) { return known.indexOf(id) < 0; });
    known = now;
    var list = queue.querySelector(".alarm-queue");
    if (clock && list) clock.textContent = clock.textContent.replace(/\d{2}:\d{2}:\d{2}/, list.getAttribute("data-updated"));
    if (fresh) beep();
  });
})();
