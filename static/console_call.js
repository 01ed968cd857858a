/* Console call page: stream this browser's microphone into a call waiting for its audio.
 * The socket is the one softphones use, WS /calls/{id}/audio, framed as /v1/stream:
 * 16 kHz mono pcm_s16le in 100 ms binary frames, then {"type":"stop"}. The page's session
 * lets the socket in; the transcript arrives over the call's own live socket as usual.
 * Kept out of the template so a Content-Security-Policy without 'unsafe-inline' fits. */
(function () {
  "use strict";

  const section = document.querySelector("[data-audio-url]");
  if (!section) return;
  const startButton = section.querySelector("[data-testid=start-mic]");
  const stopButton = section.querySelector("[data-testid=stop-mic]");
  const status = section.querySelector("[data-testid=mic-status]");
  const waiting = section.querySelector("[data-testid=audio-waiting]");
  const RATE = 16000;
  const FRAME = RATE / 10; // 100 ms

  if (!window.AudioWorkletNode || !navigator.mediaDevices) {
    status.textContent = "(this browser cannot capture audio on this page)";
    return;
  }
  startButton.hidden = false;

  let socket = null;
  let context = null;
  let capture = null;

  // The call's live socket redraws its status; once the audio flows from anywhere, the
  // invitation to connect is over (and all of it when another client sends the audio).
  document.body.addEventListener("htmx:wsAfterMessage", function () {
    const call = document.getElementById("call-status");
    if (!call || call.dataset.status === "connecting") return;
    waiting.hidden = true;
    if (!socket) section.hidden = true;
  });

  function audioUrl() {
    const url = new URL(section.dataset.audioUrl, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("sample_rate", String(RATE));
    url.searchParams.set("channels", "1");
    url.searchParams.set("encoding", "pcm_s16le");
    return url;
  }

  function release() {
    if (capture) capture.getTracks().forEach(function (t) { t.stop(); });
    if (context) context.close();
    capture = context = null;
  }

  function show(text) {
    status.textContent = text;
  }

  function connect() {
    return new Promise(function (resolve, reject) {
      const ws = new WebSocket(audioUrl());
      ws.binaryType = "arraybuffer";
      ws.addEventListener("message", function (event) {
        const message = JSON.parse(event.data);
        if (message.type === "ready") resolve(ws);
        else if (message.type === "end") show("Call ended.");
        else if (message.type === "error") {
          show("The call's audio stopped: " + message.message);
          reject(new Error(message.message));
        }
      });
      ws.addEventListener("close", function () {
        release();
        stopButton.hidden = true;
        reject(new Error("the audio connection closed"));
      });
    });
  }

  startButton.addEventListener("click", async function () {
    startButton.disabled = true;
    show("Asking for the microphone…");
    try {
      capture = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      });
      context = new AudioContext({ sampleRate: RATE });
      await context.audioWorklet.addModule("/static/pcm_worklet.js");
      socket = await connect();
      const frames = new AudioWorkletNode(context, "pcm-frames", {
        processorOptions: { frame: FRAME },
      });
      frames.port.onmessage = function (event) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(event.data);
      };
      context.createMediaStreamSource(capture).connect(frames);
      frames.connect(context.destination); // silent; keeps the node in the rendered graph
      startButton.hidden = true;
      stopButton.hidden = false;
      show("Streaming your microphone.");
    } catch (error) {
      release();
      startButton.disabled = false;
      if (!status.textContent.startsWith("The call")) show("Could not start: " + error.message);
    }
  });

  stopButton.addEventListener("click", function () {
    stopButton.disabled = true;
    release();
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "stop" }));
      show("Ending the call…");
    }
  });
})();
