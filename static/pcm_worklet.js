/* AudioWorklet processor for the console's microphone calls: the first input channel, at
 * the AudioContext's rate (the page asks for 16 kHz), as 16-bit PCM frames of
 * `processorOptions.frame` samples posted to the page, which sends each as one binary
 * WebSocket frame. An Int16Array always holds whole samples, as the protocol requires. */
class PcmFrames extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.size = options.processorOptions.frame;
    this.frame = new Int16Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const samples = inputs[0] && inputs[0][0];
    if (!samples) return true;
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      this.frame[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.filled === this.size) {
        this.port.postMessage(this.frame.buffer, [this.frame.buffer]); // detaches this.frame
        this.frame = new Int16Array(this.size);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("pcm-frames", PcmFrames);
