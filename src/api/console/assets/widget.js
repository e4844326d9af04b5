// hotline's "call us" widget. A company's page embeds it with one tag:
//   <script src="https://hotline.example.com/widget.js" data-label="Call us"
//           data-customer="SIGNED-TOKEN" async></script>
// Or frames hotline's own page of it:
//   <iframe src="https://hotline.example.com/call?customer=SIGNED-TOKEN" allow="microphone"></iframe>
// It adds a call button; a call is one RTCPeerConnection and one HTTP
// exchange with the server that served this script (POST /webrtc/calls, in
// the manner of WHIP); keys go as RFC 4733 events (RTCDTMFSender).
// `window.hotlineCall` holds the call's state, peer connection and the
// server's audio stream; each change of state is a `hotline-call` event on
// the document. No dependency, no build step.
(() => {
  const script = document.currentScript;
  const server = new URL(script ? script.src : location.href).origin;
  const label = (script && script.dataset.label) || 'Call us';
  // A site's signed claim of who its visitor is: on the script tag, or, on
  // hotline's own /call page (the iframe), in its `customer` parameter.
  const customer = (script && script.dataset.customer)
    || (location.origin === server && new URLSearchParams(location.search).get('customer'))
    || null;
  const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
  const STATES = {
    idle: '',
    connecting: 'Connecting…',
    'in-call': 'In call',
    ended: 'Call ended',
    'microphone-refused': 'The microphone is needed for a call; please allow it.',
    error: 'The call could not be made.',
  };

  const call = { state: 'idle', pc: null, remote: null, location: null, detail: '' };
  window.hotlineCall = call;

  const box = document.createElement('div');
  box.className = 'hotline-widget';
  box.setAttribute('role', 'region');
  box.setAttribute('aria-label', label);
  box.innerHTML = `
    <style>
      .hotline-widget { font: 16px system-ui, sans-serif; position: fixed; right: 1em; bottom: 1em;
        background: #fff; border: 1px solid #ccc; border-radius: .5em; padding: .75em;
        box-shadow: 0 2px 8px rgba(0,0,0,.2); z-index: 2147483000; width: 12em; }
      .hotline-widget button { font: inherit; cursor: pointer; border-radius: .3em; border: 1px solid #999; }
      .hotline-widget .hl-call { width: 100%; padding: .5em; background: #1a7f37; color: #fff; border: 0; }
      .hotline-widget .hl-hangup { width: 100%; padding: .5em; background: #c62828; color: #fff; border: 0; margin-top: .5em; }
      .hotline-widget .hl-keys { display: grid; grid-template-columns: repeat(3, 1fr); gap: .3em; margin-top: .5em; }
      .hotline-widget .hl-keys button { padding: .5em 0; background: #f4f4f4; }
      .hotline-widget .hl-status { margin: .5em 0 0; min-height: 1.2em; font-size: .9em; }
      .hotline-widget [hidden] { display: none; }
    </style>
    <button type="button" class="hl-call"></button>
    <div class="hl-keys" hidden role="group" aria-label="Keypad"></div>
    <button type="button" class="hl-hangup" hidden>Hang up</button>
    <p class="hl-status" role="status" aria-live="polite"></p>`;
  const callButton = box.querySelector('.hl-call');
  const keypad = box.querySelector('.hl-keys');
  const hangupButton = box.querySelector('.hl-hangup');
  const status = box.querySelector('.hl-status');
  callButton.textContent = label;
  for (const key of KEYS) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = key;
    button.dataset.key = key;
    button.addEventListener('click', () => press(key));
    keypad.append(button);
  }
  const audio = document.createElement('audio');
  audio.autoplay = true;
  box.append(audio);

  function show(state, detail = '') {
    call.state = state;
    call.detail = detail;
    const inCall = state === 'connecting' || state === 'in-call';
    callButton.hidden = inCall;
    keypad.hidden = state !== 'in-call';
    hangupButton.hidden = !inCall;
    status.textContent = STATES[state] + (detail ? ` ${detail}` : '');
    box.dataset.state = state;
    document.dispatchEvent(new CustomEvent('hotline-call', { detail: { state, detail } }));
  }

  function press(key) {
    const sender = call.pc && call.pc.getSenders().find((s) => s.dtmf);
    if (sender && call.state === 'in-call') sender.dtmf.insertDTMF(key, 120, 80);
  }

  async function start() {
    show('connecting');
    let microphone;
    try {
      microphone = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      show('microphone-refused');
      return;
    }
    const pc = new RTCPeerConnection(window.hotlineIceServers ? { iceServers: window.hotlineIceServers } : {});
    call.pc = pc;
    for (const track of microphone.getAudioTracks()) pc.addTrack(track, microphone);
    pc.ontrack = (event) => {
      call.remote = event.streams[0] || new MediaStream([event.track]);
      audio.srcObject = call.remote;
      audio.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') show('in-call');
      if (pc.connectionState === 'failed' || pc.connectionState === 'disconnected' || pc.connectionState === 'closed') {
        finish('ended');
      }
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      // The server is ICE-lite and learns the browser's address from its
      // checks: the offer goes once gathering is done (or after 2 s).
      await new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
        setTimeout(resolve, 2000);
      });
      const headers = { 'content-type': 'application/sdp' };
      if (customer) headers['x-hotline-customer'] = customer;
      const response = await fetch(`${server}/webrtc/calls`, { method: 'POST', headers, body: pc.localDescription.sdp });
      if (response.status !== 201) {
        let reason = '';
        try { reason = (await response.json()).error || ''; } catch (_) { /* not JSON */ }
        throw new Error(reason || `the server answered ${response.status}`);
      }
      const location = response.headers.get('location');
      call.location = location && new URL(location, server).href;
      await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    } catch (error) {
      finish('error', error.message);
    }
  }

  function finish(state, detail = '') {
    if (call.state === 'ended' || call.state === 'error') return;
    const pc = call.pc;
    if (pc) {
      for (const sender of pc.getSenders()) if (sender.track) sender.track.stop();
      pc.onconnectionstatechange = null;
      pc.close();
    }
    if (call.location) fetch(call.location, { method: 'DELETE' }).catch(() => {});
    call.location = null;
    show(state, detail);
    callButton.hidden = false;
  }

  callButton.addEventListener('click', () => {
    if (call.state !== 'connecting' && call.state !== 'in-call') start();
  });
  hangupButton.addEventListener('click', () => finish('ended'));
  // A page left mid-call hangs up.
  addEventListener('pagehide', () => {
    if (call.location) fetch(call.location, { method: 'DELETE', keepalive: true }).catch(() => {});
  });

  const mount = () => document.body.append(box);
  if (document.body) mount(); else addEventListener('DOMContentLoaded', mount);
  show('idle');
})();
