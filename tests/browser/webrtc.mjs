// A page calls the server's WebRTC peer as a web caller will: its fake
// microphone plays MIC.wav, it sends its offer in one POST and takes the
// answer, reports the dominant frequency it hears (WebAudio analyser), presses
// a key with RTCDTMFSender, then its tab is closed without a word.
// Arguments: base URL, microphone WAV file.
import { run, say, heard, strongestFrequency } from './browser.mjs';

const [base, microphone] = process.argv.slice(2);

run(async (context) => {
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(`${base}/`);
  const state = await page.evaluate(async () => {
    const pc = new RTCPeerConnection();
    window.pc = pc;
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    pc.addTrack(mic.getAudioTracks()[0], mic);
    window.remote = new Promise((resolve) => { pc.ontrack = (e) => resolve(e.streams[0] ?? new MediaStream([e.track])); });
    await pc.setLocalDescription(await pc.createOffer());
    // Non-trickle: the server is ICE-lite and learns the browser's address from its checks.
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
      setTimeout(resolve, 2000);
    });
    const response = await fetch('/offer', { method: 'POST', body: pc.localDescription.sdp, headers: { 'content-type': 'application/sdp' } });
    if (response.status !== 201) throw new Error(`offer answered ${response.status}: ${await response.text()}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    await new Promise((resolve, reject) => {
      const check = () => {
        if (pc.connectionState === 'connected') resolve();
        if (pc.connectionState === 'failed') reject(new Error('connection failed'));
      };
      pc.onconnectionstatechange = check;
      check();
    });
    return pc.connectionState;
  });
  say(state);

  const remote = await page.evaluateHandle(() => window.remote);
  const frequency = await page.evaluate(strongestFrequency, remote);
  say(`heard ${frequency}`);

  await heard();
  await page.evaluate(() => window.pc.getSenders()[0].dtmf.insertDTMF('7', 120, 80));
  say('pressed');

  await heard();
  await page.close();
  say('closed');
  await heard();
}, ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${microphone}`, '--autoplay-policy=no-user-gesture-required']);
