// The agent desktop's softphone: the browser registers as one of the
// agent's devices over SIP on a WebSocket (JsSIP), rings with the queue's
// calls beside any desk phone, and answers, mutes, holds, sends keys and
// hangs up. The SIP password is minted by the server for this page load
// (POST /agent/sip); the agent's own password never reaches the page.

const $ = (id) => document.getElementById(id);
const phone = { ua: null, session: null, remote: null, microphone: null };
// Tests and the console's own scripts may look at the call.
window.hotlinePhone = phone;

function show(state, peer = '') {
  $('phone-state').textContent = state;
  $('phone-state').dataset.phone = state;
  $('phone-peer').textContent = peer;
  const inCall = ['talking', 'held'].includes(state);
  $('phone-answer').disabled = state !== 'ringing';
  $('phone-hangup').disabled = !(inCall || state === 'ringing');
  $('phone-mute').disabled = !inCall;
  $('phone-hold').disabled = !inCall;
  for (const key of $('phone-keypad').querySelectorAll('button')) key.disabled = !inCall;
}

function fail(message) {
  $('phone-error').textContent = message;
}

async function start() {
  show('off');
  if (typeof JsSIP === 'undefined') return fail('the softphone library did not load');
  const answer = await fetch('/agent/sip', { method: 'POST' });
  if (!answer.ok) {
    const why = await answer.json().catch(() => ({}));
    return fail(`phone off: ${why.error ?? `no SIP credentials (${answer.status})`}`);
  }
  const sip = await answer.json();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new JsSIP.WebSocketInterface(`${scheme}://${location.host}${sip.path}`);
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: `sip:${sip.login}@${location.hostname}`,
    password: sip.password,
    register: true,
    register_expires: 300,
    session_timers: false,
    user_agent: 'hotline agent desktop',
  });
  phone.ua = ua;
  ua.on('registered', () => { fail(''); if (!phone.session) show('ready'); });
  ua.on('unregistered', () => { if (!phone.session) show('off'); });
  ua.on('registrationFailed', (e) => { show('off'); fail(`not registered: ${e.cause}`); });
  ua.on('disconnected', () => { if (!phone.session) show('off'); });
  ua.on('newRTCSession', ({ session, originator }) => {
    if (originator !== 'remote') return;
    if (phone.session) { session.terminate({ status_code: 486 }); return; }
    offered(session);
  });
  ua.start();
}

/** A call the queue offers: ring until answered here, elsewhere, or withdrawn. */
function offered(session) {
  phone.session = session;
  const caller = session.remote_identity.display_name || session.remote_identity.uri.user;
  show('ringing', caller);
  session.on('peerconnection', ({ peerconnection }) => {
    peerconnection.addEventListener('track', (event) => {
      phone.remote = event.streams[0] ?? new MediaStream([event.track]);
      $('phone-audio').srcObject = phone.remote;
    });
  });
  // hotline is ICE-lite: the browser checks hotline's address and hotline
  // needs none of the browser's candidates, so the answer does not wait for
  // gathering to end (JsSIP would, and Chromium may take many seconds): the
  // first candidate, or half a second, is enough.
  session.on('icecandidate', ({ ready }) => ready());
  session.on('connecting', () => setTimeout(() => {
    session.connection?.dispatchEvent(new RTCPeerConnectionIceEvent('icecandidate', { candidate: null }));
  }, 500));
  session.on('confirmed', () => show('talking', caller));
  session.on('hold', ({ originator }) => {
    if (originator !== 'local') return;
    $('phone-audio').muted = true;
    $('phone-hold').setAttribute('aria-pressed', 'true');
    show('held', caller);
  });
  session.on('unhold', ({ originator }) => {
    if (originator !== 'local') return;
    $('phone-audio').muted = false;
    $('phone-hold').setAttribute('aria-pressed', 'false');
    show('talking', caller);
  });
  const over = (e) => {
    phone.microphone?.getTracks().forEach((track) => track.stop());
    phone.microphone = null;
    phone.session = null;
    phone.remote = null;
    $('phone-audio').srcObject = null;
    $('phone-audio').muted = false;
    $('phone-mute').setAttribute('aria-pressed', 'false');
    $('phone-hold').setAttribute('aria-pressed', 'false');
    show('ready', e?.cause ? `last call: ${e.cause}` : '');
  };
  session.on('ended', over);
  session.on('failed', over);
}

// hotline's INVITE carries no offer (the browser makes it, in its 200), so
// JsSIP cannot tell from it that the call is audio: the microphone is taken
// here and handed over.
$('phone-answer').addEventListener('click', async () => {
  const session = phone.session;
  if (!session) return;
  try {
    phone.microphone = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  } catch (error) {
    fail(`no microphone: ${error.message}`);
    session.terminate({ status_code: 480 });
    return;
  }
  session.answer({ mediaStream: phone.microphone });
});
$('phone-hangup').addEventListener('click', () => phone.session?.terminate());
$('phone-mute').addEventListener('click', () => {
  const session = phone.session;
  if (!session) return;
  const muted = session.isMuted().audio;
  if (muted) session.unmute({ audio: true }); else session.mute({ audio: true });
  $('phone-mute').setAttribute('aria-pressed', String(!muted));
});
// Hold is the call's: a re-INVITE (a=sendonly) tells hotline, which plays
// the caller its music on hold until the agent resumes (a=sendrecv). JsSIP
// keeps the microphone silent meanwhile; the speaker is switched off too.
$('phone-hold').addEventListener('click', () => {
  const session = phone.session;
  if (!session) return;
  if (session.isOnHold().local) session.unhold(); else session.hold();
});
for (const key of $('phone-keypad').querySelectorAll('button')) {
  key.addEventListener('click', () => phone.session?.sendDTMF(key.textContent, { transportType: 'RFC2833' }));
}

start().catch((error) => fail(String(error)));
