// The agent desktop as a softphone: the agent signs in, the page registers
// over SIP on a WebSocket, a socket of the same page sends garbage and is
// answered 400, the queue's call rings with its screen-pop, the test answers
// in the page, the page reports the tone it hears (WebAudio analyser) while
// its fake microphone plays MIC.wav, mutes and unmutes, presses 5 on its
// keypad, and either hangs up with its button or has its tab closed mid-call.
// Arguments: base URL, login, password, microphone WAV file, `hang-up` or `close`.
import { run, agentDesktop, say, heard, strongestFrequency } from './browser.mjs';

const [base, login, password, microphone, ending] = process.argv.slice(2);

run(async (context) => {
  const page = await agentDesktop(context, base, login, password);
  say('registered');

  // Garbage on a socket of its own: a request too broken to take gets 400,
  // bytes that are no SIP at all get nothing, and the socket stays usable.
  const garbage = await page.evaluate(async () => {
    const socket = new WebSocket(`ws://${location.host}/sip`, 'sip');
    const answers = [];
    socket.onmessage = (m) => answers.push(m.data.split('\r\n')[0]);
    await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
    socket.send('\x00\x01 this is no SIP at all \xff');
    socket.send(['OPTIONS sip:hotline@invalid SIP/2.0', 'Via: SIP/2.0/WS x.invalid;branch=z9hG4bKgarbage1',
      'From: <sip:x@x.invalid>;tag=1', 'To: <sip:hotline@invalid>', 'Call-ID: garbage-1', 'CSeq: 1 OPTIONS',
      'Max-Forwards: many', 'Content-Length: 0', '', ''].join('\r\n'));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const open = socket.readyState === WebSocket.OPEN;
    socket.close();
    return `${answers.join(' | ') || 'no answer'}; open=${open}`;
  });
  say(`garbage: ${garbage}`);

  await page.waitForSelector('#phone-state[data-phone="ringing"]', { timeout: 60_000 });
  await page.waitForSelector('#pop:not([hidden])');
  const field = async (name) => (await page.textContent(`[data-pop="${name}"]`)).trim();
  say(`ringing name=${await field('name')} account=${await field('account')}`);

  await heard();
  await page.click('#phone-answer');
  await page.waitForSelector('#phone-state[data-phone="talking"]');
  await page.waitForSelector('#state[data-state="on_call"]');
  say('talking');

  const remote = await page.evaluateHandle(() => window.hotlinePhone.remote);
  const frequency = await page.evaluate(strongestFrequency, remote);
  say(`heard ${frequency}`);

  await heard();
  await page.click('#phone-mute');
  const muted = await page.evaluate(() => window.hotlinePhone.session.isMuted().audio);
  await page.click('#phone-mute');
  say(`mute ${muted}, unmuted ${!(await page.evaluate(() => window.hotlinePhone.session.isMuted().audio))}`);

  await heard();
  await page.click('#phone-keypad button:text-is("5")');
  say('pressed 5');

  await heard();
  if (ending === 'hang-up') {
    await page.click('#phone-hangup');
    await page.waitForSelector('#phone-state[data-phone="ready"]');
    await page.waitForSelector('#state[data-state="wrap_up"]');
    say('hung up, wrap_up');
  } else {
    await page.close();
    say('closed');
  }
  await heard();
}, ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${microphone}`, '--autoplay-policy=no-user-gesture-required']);
